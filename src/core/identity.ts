/**
 * Who a session is, and how that changes: rotating its id (regenerate), binding it to a user
 * (signIn and the per-user cap), ending it (destroy), and a user's devices (list and revoke).
 * The manager calls these with its ManagerContext; the store side lives in records.ts and users.ts.
 * Over 400 lines on purpose: every step that can end or move a signed-in session reads or
 * advances the same per-user fence (fence.ts), and keeping those steps side by side is what lets
 * a reader check the finality protocol in one file.
 */
import type { Renewal } from "./envelope.js";
import { RETIRED } from "./envelope.js";
import { SessionError, SessionLimitError, SessionStoreError, SessionUnsupportedError } from "./errors.js";
import { checkUserId, readDevice } from "./events.js";
import { generateToken } from "./ids.js";
import type { SessionHeader } from "./node-http.js";
import { readForward, rotateRecord, touchRecord } from "./records.js";
import type { ServerStore } from "./abilities.js";
import type { ManagerContext } from "./context.js";
import { final } from "./store-call.js";
import type { FenceMark, FenceTarget } from "./fence.js";
import { advanceFence, markOf, readFence, spared, targetsHandle } from "./fence.js";
import { toMilliseconds } from "./duration.js";
import type { SessionInternals, SessionLifetime, SignInOptions, SignedInUser } from "./session.js";
import type { SessionStore } from "./store.js";
import type { OwnedRecord, SessionInfo } from "./users.js";
import { distinctSessions, ownedByAny, ownedRecords } from "./users.js";

// ---- the session's id ----

/**
 * New id, same data: see Session.regenerate for the guarantees, records.ts for how.
 * `previousOwner`: whose index holds the old id (signIn passes the user it replaces).
 * A signed-in session then reads its user's fence: a revocation that listed the user's sessions
 * before the new record existed named this session there, and the rotation ends itself.
 */
export async function regenerate(core: ManagerContext, state: SessionInternals, previous: Identity | undefined = identityOf(state.user)): Promise<void> {
  await rotate(core, state, previous, false);
}

/** How a rotation ended: see renew. */
export type RotationOutcome = "renewed" | "joined" | "gone";

/**
 * Option `renewInterval`: a new id whose predecessor forwards to it for `renewGrace`. Resolves
 * "joined" when another request had renewed the session first: `state` then holds the current
 * record (and this request's changes, still to be written) rather than a new id of its own;
 * "gone" when the session had ended meanwhile (`state` superseded).
 */
export function renew(core: ManagerContext, state: SessionInternals): Promise<RotationOutcome> {
  return rotate(core, state, identityOf(state.user), true);
}

async function rotate(core: ManagerContext, state: SessionInternals, previous: Identity | undefined, renewing: boolean): Promise<RotationOutcome> {
  if (state.status === "destroyed") throw new SessionError("ERR_SESSION_DESTROYED", "cannot regenerate a destroyed session");
  const oldKey = state.storedKey;
  const oldToken = state.token;
  const user = state.user;
  const signingIn = user?.fresh === true;
  state.token = generateToken();
  if (user) {
    user.sealedId = undefined; // sealed under the old token
    user.handle ??= core.handleOfToken(state.token); // a sign-in's new handle; kept by later rotations
  }
  state.sendCookie = true;
  const server = core.server;
  const now = core.now();
  const graceUntil = now + core.options.renewGrace;
  // The previous id forwards only after a renewal: any other rotation retires it at once.
  if (core.options.renewInterval > 0) state.renewal = { rotatedAt: now, previous: renewing && oldKey ? { key: oldKey, graceUntil } : undefined };
  if (!oldKey || !server) {
    state.status = "modified";
    if (!signingIn && oldKey) core.emit("regenerated", state, user?.id);
    return "renewed";
  }
  const newKey = core.keyOf(state.token);
  const expiresAt = core.expiresAt(state);
  const pendingUntil = user ? core.pendingUntil(expiresAt) : expiresAt; // an anonymous record counts against no cap
  await indexOwner(core, server, state, newKey, expiresAt, true);
  const retirement = { previousToken: oldToken, graceUntil: renewing ? graceUntil : undefined };
  const rotation = await rotateRecord(core, server.store, state, oldKey, newKey, pendingUntil, retirement);
  if (rotation.outcome !== "rotated") {
    await unindex(core, server, user?.owner, newKey); // its record was never kept
    if (rotation.outcome === "gone") supersede(state, []);
    return rotation.outcome;
  }
  // From here the new record is stored and the old id retired: a failure is of unknown outcome.
  await outcomeUnknown(async () => {
    await unindex(core, server, previous?.owner, rotation.retired);
    state.storedKey = newKey;
    state.storedExpiresAt = pendingUntil;
    state.changes = undefined;
    state.status = "unmodified"; // the rotation stored everything; the cookie still goes out
    // A session signed in before (as anyone) must not outlive a revocation of that identity.
    if (signingIn) return completeSignIn(core, state, server, newKey, expiresAt, previous);
    if (await fenceHolds(core, server, state, newKey)) core.emit("regenerated", state, user?.id);
    await confirmRecord(core, server, state, expiresAt);
  });
  return "renewed";
}

/** After a sign-in's record is written (pending) under `key`: the fence, the event, the cap, then its real expiry. */
export function completeSignIn(core: ManagerContext, state: SessionInternals, server: ServerStore, key: string, expiresAt: number, previous?: Identity): Promise<void> {
  return outcomeUnknown(async () => {
    if (await fenceHolds(core, server, state, key, previous)) await signedIn(core, state, server, key);
    await confirmRecord(core, server, state, expiresAt);
  });
}

/**
 * The last step of a sign-in or rotation: its new record, written to expire at
 * core.pendingUntil, gets its real expiry (one touch). A process that died before this step
 * left a record no client ever received; it ends within the pending window instead of counting
 * against the user's cap until it idles out.
 */
async function confirmRecord(core: ManagerContext, server: ServerStore, state: SessionInternals, expiresAt: number): Promise<void> {
  if (state.status === "destroyed" || state.storedExpiresAt >= expiresAt) return; // ended meanwhile, or never pending
  await touchRecord(core, server, state, state.storedKey!, expiresAt);
  state.storedExpiresAt = expiresAt;
}

/** Who a signed-in session was, for the fence: its user's owner key, its handle, the fence it saw. */
export interface Identity {
  owner: string;
  handle: string;
  fence: FenceMark | undefined;
}

/** `evenFresh`: a sign-in that has not written yet is an identity too (its own, for the fence). */
function identityOf(user: SignedInUser | undefined, evenFresh = false): Identity | undefined {
  return user && (evenFresh || !user.fresh) ? { owner: user.owner, handle: user.handle!, fence: user.fence } : undefined;
}

/**
 * After a signed-in record was written under `key`: false (the record deleted, the session
 * superseded) when a revocation made since the sign-in read its fence named this session, as it
 * is now or, with `previous` of the same user, as it was before a new sign-in.
 */
async function fenceHolds(core: ManagerContext, server: ServerStore, state: SessionInternals, key: string, previous?: Identity): Promise<boolean> {
  if (!server.users) return true;
  const identities = [identityOf(state.user, true), previous].filter((identity) => identity !== undefined);
  const fences = new Map<string, Awaited<ReturnType<typeof readFence>>>();
  for (const { owner, handle, fence } of identities) {
    if (!fences.has(owner)) fences.set(owner, await readFence(core, server.store, owner));
    if (spared(fences.get(owner)!, fence, handle)) continue;
    await destroyOwned(core, server, state.user?.owner ?? owner, key, state.renewal?.previous?.key);
    supersede(state, []);
    return false;
  }
  return true;
}

/** Runs steps that follow a write: a store failure among them may leave that write applied. */
async function outcomeUnknown(steps: () => Promise<void>): Promise<void> {
  try {
    await steps();
  } catch (error) {
    if (error instanceof SessionStoreError && error.outcome === undefined) {
      throw new SessionStoreError(error.message, { cause: error.cause, outcome: "unknown" });
    }
    throw error;
  }
}

/**
 * Removes the record now; the next commit expires the cookie. A signed-in session is ended by a
 * compare-and-set at the version this request loaded: if another request rotated it meanwhile,
 * the logout follows it by handle, through the fence, so the logout the user pressed wins over
 * a rotation they did not see.
 */
export async function destroy(core: ManagerContext, state: SessionInternals): Promise<void> {
  const key = state.storedKey;
  const server = core.server;
  const user = state.user;
  if (key && server) {
    if (user && server.users) await endSignedIn(core, server, state, key, user.owner, user.handle!);
    else if (core.options.renewInterval > 0) await endRenewable(core, server, state, key);
    else await core.call("destroy", (o) => server.store.destroy(key, o));
    if (user) await unindex(core, server, user.owner, key);
    await destroyForward(core, server, state.renewal);
  }
  if (state.token && (key || state.clientHasCookie)) core.emit("destroyed", state, user?.id);
  endState(state);
}

async function endSignedIn(core: ManagerContext, server: ServerStore, state: SessionInternals, key: string, owner: string, handle: string): Promise<void> {
  const store = server.store;
  const retire = { data: RETIRED, expiresAt: state.storedExpiresAt, version: state.version + 1, expectedVersion: state.version };
  if (!(await core.call("set", (o) => store.set(key, retire, final(o))))) {
    await endSessions(core, server, owner, { handles: [handle] }); // changed or rotated since loaded
  }
  await core.call("destroy", (o) => store.destroy(key, o));
}

/**
 * A session that another request may have renewed since this one loaded it: its id is now a
 * forward, and the logout ends the current record too (both ids end at once).
 */
async function endRenewable(core: ManagerContext, server: ServerStore, state: SessionInternals, key: string): Promise<void> {
  const store = server.store;
  const retire = { data: RETIRED, expiresAt: state.storedExpiresAt, version: state.version + 1, expectedVersion: state.version };
  if (!(await core.call("set", (o) => store.set(key, retire, final(o))))) {
    const found = await core.call("get", (o) => store.get(key, o));
    const forwarded = found && !state.followed && state.token ? await readForward(core, store, found, state.token) : null;
    if (forwarded) await core.call("destroy", (o) => store.destroy(forwarded.key, o));
  }
  await core.call("destroy", (o) => store.destroy(key, o));
}

/** The forward a renewal left under the previous id, deleted while it still leads here. */
async function destroyForward(core: ManagerContext, server: ServerStore, renewal: Renewal | undefined): Promise<void> {
  const previous = renewal?.previous;
  if (!previous || previous.graceUntil <= core.now()) return;
  await core.call("destroy", (o) => server.store.destroy(previous.key, o));
}

/** Another request destroyed, rotated or expired the session first: nothing stored, no cookie sent. */
export function supersede(state: SessionInternals, headers: SessionHeader[]): void {
  endState(state);
  state.superseded = true;
  state.clientHasCookie = false;
  state.sendCookie = false;
  headers.length = 0; // the response that won told the browser already
}

function endState(state: SessionInternals): void {
  state.data.clear();
  state.changes = undefined;
  state.status = "destroyed";
  state.storedKey = undefined;
  state.version = 0;
  state.user = undefined;
  state.renewal = undefined;
}

// ---- signing in ----

export async function signIn(core: ManagerContext, state: SessionInternals, userId: string, options: SignInOptions = {}): Promise<void> {
  checkUserId(userId);
  const method = checkMethod(options.method);
  const lifetime = lifetimeOf(core, options);
  const { maxSessionsPerUser: max, sessionLimit, deviceInfo, now, atRest } = core.options;
  const owner = atRest.owner(userId);
  const server = core.server;
  if (server && max !== undefined && sessionLimit === "reject") {
    const owned = distinctSessions(await ownedByAny(core, server, atRest.owners(userId)));
    const own = state.user?.owner === owner ? state.user.handle : undefined;
    if (owned.filter((record) => record.info.handle !== own).length >= max) throw new SessionLimitError(max);
  }
  const fence = await fenceOf(core, server, owner);
  const device = deviceInfo ? readDevice(state.device) : undefined;
  const previous = identityOf(state.user);
  state.user = {
    id: userId,
    owner,
    signedInAt: now(),
    userAgent: device?.userAgent,
    ip: device?.ip,
    fresh: true,
    sealedId: undefined,
    handle: undefined,
    fence,
    authenticatedAt: now(),
    authMethod: method,
    lifetime,
  };
  state.status = "modified";
  await regenerate(core, state, previous);
}

/** The user proved who they are again: a new authentication time (and method), and a new id. */
export async function reauthenticated(core: ManagerContext, state: SessionInternals, method: string | undefined): Promise<void> {
  const user = state.user;
  if (!user) throw new SessionError("ERR_SESSION_NOT_SIGNED_IN", "reauthenticated() needs a signed-in session: call signIn() instead");
  user.authMethod = checkMethod(method) ?? user.authMethod;
  user.authenticatedAt = core.now();
  state.status = "modified";
  await regenerate(core, state);
}

function checkMethod(method: string | undefined): string | undefined {
  if (method === undefined) return undefined;
  if (typeof method !== "string" || method.length === 0 || method.length > 64) {
    throw new TypeError(`option "method" must be a non-empty string of at most 64 characters, such as "password" or "webauthn"; got ${JSON.stringify(method)}`);
  }
  return method;
}

/** signIn's lifetime options in milliseconds, refused (TypeError) above the manager's maximums. */
function lifetimeOf(core: ManagerContext, options: SignInOptions): SessionLifetime | undefined {
  const { persistent, idleTimeout, absoluteTimeout } = options;
  if (persistent === undefined && idleTimeout === undefined && absoluteTimeout === undefined) return undefined;
  if (persistent !== undefined && typeof persistent !== "boolean") throw new TypeError('option "persistent" must be true or false');
  const bounded = (value: SignInOptions["idleTimeout"], name: string, max: number, maxName: string) => {
    if (value === undefined) return undefined;
    const parsed = toMilliseconds(value, name);
    if (parsed === 0 || parsed > max) throw new TypeError(`option "${name}" must be greater than 0 and at most the manager's ${maxName} (${max} ms); got ${JSON.stringify(value)}`);
    return parsed;
  };
  const { maxIdleTimeout, maxAbsoluteTimeout } = core.options;
  return {
    persistent,
    idleTimeout: bounded(idleTimeout, "idleTimeout", maxIdleTimeout, "maxIdleTimeout"),
    absoluteTimeout: bounded(absoluteTimeout, "absoluteTimeout", maxAbsoluteTimeout, "maxAbsoluteTimeout"),
  };
}

/** The fence a sign-in starts from: in the session store, or for cookie sessions in `revocations`. */
async function fenceOf(core: ManagerContext, server: ServerStore | null, owner: string) {
  const fences = server ? (server.users ? server.store : null) : (core.options.revocations ?? null);
  return fences ? markOf(await readFence(core, fences, owner)) : undefined;
}

/**
 * After the first write of a fresh sign-in: the event, then the per-user cap. With
 * "evict-oldest" every racer evicts by the same order (newest sign-in first, ties by handle),
 * itself included when it ranks past the cap, through the fence, so once concurrent sign-ins and
 * rotations settle exactly `max` stay live. Two racers may evict the same session, so an
 * "evicted" event can repeat for one handle. With "reject" nothing is evicted: sign-ins that
 * raced past the check exceed the cap until the next sign-in.
 */
export async function signedIn(core: ManagerContext, state: SessionInternals, server?: ServerStore, key?: string): Promise<void> {
  const user = state.user!;
  user.fresh = false;
  core.emit("signed-in", state, user.id);
  const { maxSessionsPerUser: max, sessionLimit } = core.options;
  if (!server?.users || !key || max === undefined || sessionLimit === "reject") return;
  const owned = distinctSessions(await ownedRecords(core, server, user.owner));
  const handles = owned.slice(max).map((record) => record.info.handle);
  if (handles.length === 0) return;
  await endSessions(core, server, user.owner, { handles });
  // The fence now names each of them: one this call did not delete (its own sign-in was still
  // writing, and saw the fence first) ends itself, so each gets its event here.
  for (const handle of handles) core.emit("evicted", handle, user.id);
  if (handles.includes(user.handle!)) supersede(state, []);
}

/**
 * Ends the sessions of `owner` that `target` names: the fence first, then the listing, so a
 * session rotating meanwhile is either listed here or ends itself. Resolves to the handles ended.
 */
async function endSessions(core: ManagerContext, server: ServerStore, owner: string, target: FenceTarget): Promise<string[]> {
  await advanceFence(core, server.store, owner, target);
  const doomed = (await ownedRecords(core, server, owner)).filter((record) => targetsHandle(target, record.info.handle));
  await Promise.all(doomed.map((record) => destroyOwned(core, server, owner, record.key, record.forward)));
  return [...new Set(doomed.map((record) => record.info.handle))];
}

/** Deletes a signed-in record, with the forward its renewal left under the previous id (`forward`). */
async function destroyOwned(core: ManagerContext, server: ServerStore, owner: string, key: string, forward?: string): Promise<void> {
  await core.call("destroy", (o) => server.store.destroy(key, o));
  if (forward !== undefined) await core.call("destroy", (o) => server.store.destroy(forward, o));
  await unindex(core, server, owner, key);
}

/**
 * After a signed-in record is deleted its index entry goes too, so the index stays the size of
 * the user's live sessions rather than growing with every sign-in. The record is gone already, so
 * a failure here fails nothing: the stale entry is dropped when listed after its keepUntil.
 */
async function unindex(core: ManagerContext, server: ServerStore, owner: string | undefined, key: string): Promise<void> {
  const remove = server.users?.remove;
  if (!owner || !remove) return;
  try {
    await core.call("unindexOwner", (o) => remove(owner, key, o));
  } catch {
    // see above
  }
}

/**
 * Before the record: an index that misses a live session could never revoke it. A commit needs
 * it only at sign-in; a rotation moves a signed-in session to a key the index has never seen.
 */
export async function indexOwner(core: ManagerContext, server: ServerStore, state: SessionInternals, key: string, expiresAt: number, rotating = false): Promise<void> {
  const user = state.user;
  const add = server.users?.add;
  if (!user || !(user.fresh || rotating) || !add) return;
  const keepUntil = Math.max(expiresAt, state.createdAt + core.absoluteOf(user.lifetime));
  await core.call("indexOwner", (o) => add(user.owner, key, keepUntil, o));
}

// ---- a user's devices ----

export async function listSessions(core: ManagerContext, server: ServerStore, userId: string): Promise<SessionInfo[]> {
  const { atRest } = core.options;
  const owners = atRest.owners(checkUserId(userId));
  const owned = distinctSessions(await ownedByAny(core, server, owners, (user) => atRest.openDevice(userId, user.sealedDevice!)));
  return owned.map((record: OwnedRecord) => record.info);
}

/**
 * `server` is null for cookie sessions. A user may have two owner keys while an index migrates
 * to `atRestSecret` (at-rest.ts): each gets its fence and its listing.
 */
export async function revokeSession(core: ManagerContext, server: ServerStore | null, userId: string, handle: string): Promise<boolean> {
  const owners = core.options.atRest.owners(checkUserId(userId));
  if (!server) {
    // The server cannot see cookie sessions: the fence names the handle; true as it cannot be checked.
    const revocations = revocationStore(core, "revokeSession");
    for (const owner of owners) await advanceFence(core, revocations, owner, { handles: [handle] });
    core.emit("revoked", handle, userId);
    return true;
  }
  // A live session always has a record to list, under its old id or its new one.
  const listed = (await ownedByAny(core, server, owners)).find((record) => record.info.handle === handle);
  if (!listed) return false;
  await endSessions(core, server, listed.owner, { handles: [handle] });
  core.emit("revoked", handle, userId);
  return true;
}

export async function revokeUser(core: ManagerContext, server: ServerStore | null, userId: string, except: string | undefined): Promise<number> {
  const owners = core.options.atRest.owners(checkUserId(userId));
  if (!server) {
    // Cookie sessions cannot be counted: the fence ends them at their next load; resolves to 0.
    const revocations = revocationStore(core, "revokeUser");
    for (const owner of owners) await advanceFence(core, revocations, owner, { all: true, except });
    return 0;
  }
  const ended = new Set<string>();
  for (const owner of owners) for (const handle of await endSessions(core, server, owner, { all: true, except })) ended.add(handle);
  for (const handle of ended) core.emit("revoked", handle, userId);
  return ended.size;
}

function revocationStore(core: ManagerContext, what: string): SessionStore {
  const store = core.options.revocations;
  if (!store) {
    throw new SessionUnsupportedError(`${what}() of cookie sessions needs option "revocations": a server-side store that remembers them`);
  }
  return store;
}

/**
 * Who a session is, and how that changes: rotating its id (regenerate), binding it to a user
 * (signIn and the per-user cap), ending it (destroy), and a user's devices (list and revoke).
 * The manager calls these with its ManagerCore; the store side lives in records.ts and users.ts.
 */
import { SessionError, SessionLimitError, SessionUnsupportedError } from "./errors.js";
import type { SessionEventType } from "./events.js";
import { checkUserId, readDevice } from "./events.js";
import { generateToken } from "./ids.js";
import type { SessionHeader } from "./node-http.js";
import type { ResolvedOptions } from "./options.js";
import type { RecordContext } from "./records.js";
import { rotateRecord } from "./records.js";
import type { RevocationContext } from "./revocations.js";
import { revokeAll, revokeOne } from "./revocations.js";
import type { SessionInternals } from "./session.js";
import type { AnyStore, SessionStore } from "./store.js";
import { isClientSideStore } from "./store.js";
import type { SessionInfo, UserContext } from "./users.js";
import { ownedByAny, ownedRecords } from "./users.js";

/** What these functions need of the manager; made once per manager. */
export interface ManagerCore {
  readonly options: ResolvedOptions;
  readonly records: RecordContext & UserContext;
  readonly revocations: RevocationContext;
  call: RecordContext["call"];
  /** `subject` is a handle, or the session whose handle is computed only if someone listens. */
  emit(type: SessionEventType, subject: string | SessionInternals, userId: string | undefined): void;
  keyOf(token: string): string;
  handleOf(state: SessionInternals): string;
  expiresAt(state: SessionInternals): number;
  /** The server-side store, or null for cookie sessions (and before a provider's store is ready). */
  serverStore(): SessionStore | null;
}

// ---- the session's id ----

/** New id, same data: see Session.regenerate for the guarantees, records.ts for how. */
/** `previousOwner`: whose index holds the old id (signIn passes the user it replaces). */
export async function regenerate(core: ManagerCore, state: SessionInternals, previousOwner = state.user?.owner): Promise<void> {
  if (state.status === "destroyed") throw new SessionError("ERR_SESSION_DESTROYED", "cannot regenerate a destroyed session");
  const oldKey = state.storedKey;
  const signingIn = state.user?.fresh === true;
  state.token = generateToken();
  if (state.user) state.user.sealedId = undefined; // sealed under the old token
  state.sendCookie = true;
  const store = core.serverStore();
  if (!oldKey || !store) {
    state.status = "modified";
    if (!signingIn && oldKey) core.emit("regenerated", state, state.user?.id);
    return;
  }
  const newKey = core.keyOf(state.token);
  const expiresAt = core.expiresAt(state);
  await indexOwner(core, store, state, newKey, expiresAt, true);
  if (!(await rotateRecord(core.records, store, state, oldKey, newKey, expiresAt))) {
    await unindex(core, store, state.user?.owner, newKey); // its record was never kept
    return supersede(state, []);
  }
  await unindex(core, store, previousOwner, oldKey);
  state.storedKey = newKey;
  state.storedExpiresAt = expiresAt;
  state.changes = undefined;
  state.status = "unmodified"; // the rotation stored everything; the cookie still goes out
  if (signingIn) await signedIn(core, state, store, newKey);
  else core.emit("regenerated", state, state.user?.id);
}

/** Removes the record now; the next commit expires the cookie. */
export async function destroy(core: ManagerCore, state: SessionInternals): Promise<void> {
  const key = state.storedKey;
  const store = core.serverStore();
  if (key && store) {
    await core.call("destroy", (o) => store.destroy(key, o));
    await unindex(core, store, state.user?.owner, key);
  }
  if (state.token && (key || state.clientHasCookie)) core.emit("destroyed", state, state.user?.id);
  endState(state);
}

/** Another request destroyed, rotated or expired the session first: nothing stored, no cookie sent. */
export function supersede(state: SessionInternals, headers: SessionHeader[]): void {
  endState(state);
  state.superseded = true;
  state.clientHasCookie = false;
  state.sendCookie = false;
  if (!Object.isFrozen(headers)) headers.length = 0; // the response that won told the browser already
}

function endState(state: SessionInternals): void {
  state.data.clear();
  state.changes = undefined;
  state.status = "destroyed";
  state.storedKey = undefined;
  state.version = 0;
  state.user = undefined;
}

// ---- signing in ----

export async function signIn(core: ManagerCore, state: SessionInternals, userId: string): Promise<void> {
  checkUserId(userId);
  const { maxSessionsPerUser: max, sessionLimit, deviceInfo, now, atRest } = core.options;
  const owner = atRest.owner(userId);
  const store = core.serverStore();
  if (store && max !== undefined && sessionLimit === "reject") {
    const owned = await ownedByAny(core.records, store, atRest.owners(userId));
    const others = owned.filter((record) => record.key !== state.storedKey);
    if (others.length >= max) throw new SessionLimitError(max);
  }
  const device = deviceInfo ? readDevice(state.device) : undefined;
  const previousOwner = state.user?.owner;
  state.user = { id: userId, owner, signedInAt: now(), userAgent: device?.userAgent, ip: device?.ip, fresh: true, sealedId: undefined };
  state.status = "modified";
  await regenerate(core, state, previousOwner);
}

/**
 * After the first write of a fresh sign-in: the event, then the per-user cap. Every racer
 * evicts by the same order (newest sign-in first, ties by handle), itself included when it
 * ranks past the cap, so once concurrent sign-ins settle exactly `max` stay live. Two racers
 * may evict the same session, so an "evicted" event can repeat for one handle.
 */
export async function signedIn(core: ManagerCore, state: SessionInternals, store?: SessionStore, key?: string): Promise<void> {
  const user = state.user!;
  user.fresh = false;
  core.emit("signed-in", state, user.id);
  const max = core.options.maxSessionsPerUser;
  if (!store || !key || max === undefined || !store.listByOwner) return;
  const owned = await ownedRecords(core.records, store, user.owner);
  const evicted = owned.slice(max);
  await Promise.all(evicted.map((record) => destroyOwned(core, store, user.owner, record.key)));
  for (const record of evicted) core.emit("evicted", record.info.handle, user.id);
  if (evicted.some((record) => record.key === key)) supersede(state, []);
}

async function destroyOwned(core: ManagerCore, store: SessionStore, owner: string, key: string): Promise<void> {
  await core.call("destroy", (o) => store.destroy(key, o));
  await unindex(core, store, owner, key);
}

/**
 * After a signed-in record is deleted its index entry goes too, so the index stays the size of
 * the user's live sessions rather than growing with every sign-in. The record is gone already, so
 * a failure here fails nothing: the stale entry is dropped when listed after its keepUntil.
 */
async function unindex(core: ManagerCore, store: SessionStore, owner: string | undefined, key: string): Promise<void> {
  if (!owner || !store.unindexOwner) return;
  try {
    await core.call("unindexOwner", (o) => store.unindexOwner!(owner, key, o));
  } catch {
    // see above
  }
}

/**
 * Before the record: an index that misses a live session could never revoke it. A commit needs
 * it only at sign-in; a rotation moves a signed-in session to a key the index has never seen.
 */
export async function indexOwner(core: ManagerCore, store: SessionStore, state: SessionInternals, key: string, expiresAt: number, rotating = false): Promise<void> {
  const user = state.user;
  if (!user || !(user.fresh || rotating) || !store.indexOwner) return;
  const keepUntil = Math.max(expiresAt, state.createdAt + core.options.absoluteTimeout);
  await core.call("indexOwner", (o) => store.indexOwner!(user.owner, key, keepUntil, o));
}

// ---- a user's devices ----

export async function listSessions(core: ManagerCore, store: SessionStore, userId: string): Promise<SessionInfo[]> {
  const { atRest } = core.options;
  const owned = await ownedByAny(core.records, store, atRest.owners(checkUserId(userId)), (user) => atRest.openDevice(userId, user.sealedDevice!));
  return owned.map((record) => record.info);
}

export async function revokeSession(core: ManagerCore, store: AnyStore, userId: string, handle: string): Promise<boolean> {
  const owners = core.options.atRest.owners(checkUserId(userId));
  if (isClientSideStore(store)) {
    // The server cannot see cookie sessions: remember the revocation; true as it cannot be checked.
    const revocations = revocationStore(core, "revokeSession");
    for (const owner of owners) await revokeOne(core.revocations, revocations, owner, handle);
    core.emit("revoked", handle, userId);
    return true;
  }
  const target = (await ownedByAny(core.records, store, owners)).find((record) => record.info.handle === handle);
  if (!target) return false;
  await destroyOwned(core, store, target.owner, target.key);
  core.emit("revoked", target.info.handle, userId);
  return true;
}

export async function revokeUser(core: ManagerCore, store: AnyStore, userId: string, except: string | undefined): Promise<number> {
  const owners = core.options.atRest.owners(checkUserId(userId));
  if (isClientSideStore(store)) {
    // Cookie sessions cannot be counted: they are cut off by sign-in time; resolves to 0.
    const revocations = revocationStore(core, "revokeUser");
    for (const owner of owners) await revokeAll(core.revocations, revocations, owner, except);
    return 0;
  }
  const doomed = (await ownedByAny(core.records, store, owners)).filter((record) => record.info.handle !== except);
  await Promise.all(doomed.map((record) => destroyOwned(core, store, record.owner, record.key)));
  for (const record of doomed) core.emit("revoked", record.info.handle, userId);
  return doomed.length;
}

function revocationStore(core: ManagerCore, what: string): SessionStore {
  const store = core.options.revocations;
  if (!store) {
    throw new SessionUnsupportedError(`${what}() of cookie sessions needs option "revocations": a server-side store that remembers them`);
  }
  return store;
}

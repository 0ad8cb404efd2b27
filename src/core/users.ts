import { SessionUnsupportedError } from "./errors.js";
import type { Envelope, StoredUser } from "./envelope.js";
import { handleOfKey } from "./envelope.js";
import type { Awaitable, SessionStore, StoreCallOptions } from "./store.js";

/** One live session of a user, as listSessions shows it. */
export interface SessionInfo {
  /** Public, non-secret name of the session: pass it to revokeSession. */
  handle: string;
  createdAt: Date;
  signedInAt: Date;
  /** When a request last used it; lags by up to `touchInterval` for requests that changed nothing. */
  lastSeenAt: Date;
  expiresAt: Date;
  userAgent?: string;
  ip?: string;
}

type DeviceInfo = { userAgent: string | undefined; ip: string | undefined };

/** A live session of a user with the store key it lives under (never leaves the manager). */
export interface OwnedRecord {
  key: string;
  /** The owner key it is indexed under. */
  owner: string;
  info: SessionInfo;
}

export interface UserContext {
  call<R>(operation: string, run: (options: StoreCallOptions) => Awaitable<R>): Awaitable<R>;
  live(text: string, expiresAt: number): Envelope | null;
  idleTimeout: number;
  now(): number;
}

/**
 * Every live session of `owner`, newest sign-in first (ties by handle, so racers agree).
 * `device` opens a record's sealed User-Agent and IP (listSessions passes it; others need none).
 */
export async function ownedRecords(ctx: UserContext, store: SessionStore, owner: string, device?: (user: StoredUser) => DeviceInfo): Promise<OwnedRecord[]> {
  if (!store.listByOwner) {
    throw new SessionUnsupportedError("this store cannot list a user's sessions: it has no listByOwner() method (see the store contract)");
  }
  const found = await ctx.call("listByOwner", (o) => store.listByOwner!(owner, o));
  const now = ctx.now();
  const owned: OwnedRecord[] = [];
  for (const { key, record } of found) {
    const envelope = ctx.live(record.data, record.expiresAt);
    const user = envelope?.user;
    if (!envelope || !user || user.owner !== owner) continue; // stale entry: not this user's any more
    const lastSeen = Math.max(user.lastWriteAt, Math.min(now, record.expiresAt - ctx.idleTimeout));
    const info: SessionInfo = {
      handle: handleOfKey(key),
      createdAt: new Date(envelope.createdAt),
      signedInAt: new Date(user.signedInAt),
      lastSeenAt: new Date(lastSeen),
      expiresAt: new Date(record.expiresAt),
    };
    const { userAgent, ip } = device && user.sealedDevice !== undefined ? device(user) : user;
    if (userAgent !== undefined) info.userAgent = userAgent;
    if (ip !== undefined) info.ip = ip;
    owned.push({ key, owner, info });
  }
  return owned.sort(newestFirst);
}

/** ownedRecords of each of a user's owner keys (at-rest.ts), merged in the same order. */
export async function ownedByAny(ctx: UserContext, store: SessionStore, owners: readonly string[], device?: (user: StoredUser) => DeviceInfo): Promise<OwnedRecord[]> {
  if (owners.length === 1) return ownedRecords(ctx, store, owners[0]!, device);
  const lists = await Promise.all(owners.map((owner) => ownedRecords(ctx, store, owner, device)));
  return lists.flat().sort(newestFirst);
}

function newestFirst(a: OwnedRecord, b: OwnedRecord): number {
  const bySignIn = b.info.signedInAt.getTime() - a.info.signedInAt.getTime();
  return bySignIn !== 0 ? bySignIn : a.info.handle < b.info.handle ? -1 : a.info.handle > b.info.handle ? 1 : 0;
}

import type { ManagerContext } from "./context.js";
import { SessionUnsupportedError } from "./errors.js";
import type { StoredUser } from "./envelope.js";
import { handleOfKey } from "./envelope.js";
import type { ServerStore } from "./abilities.js";

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
  /** True when the browser bound the session to a device key (option `dbsc`). */
  bound: boolean;
  /** When and how the user last proved who they are (signIn, reauthenticated). */
  authenticatedAt: Date;
  authMethod?: string;
  /** False: a browser-session cookie ("don't remember me"); absent: the manager's cookie.persistent. */
  persistent?: boolean;
}

type DeviceInfo = { userAgent: string | undefined; ip: string | undefined };

/** A live session of a user with the store key it lives under (never leaves the manager). */
export interface OwnedRecord {
  key: string;
  /** The owner key it is indexed under. */
  owner: string;
  info: SessionInfo;
  /** The key of the previous id while it still forwards here (option `renewInterval`). */
  forward: string | undefined;
}

/** What these helpers use of the manager's one context. */
export type UserContext = Pick<ManagerContext, "call" | "live" | "idleTimeout" | "now">;

/**
 * Every live session of `owner`, newest sign-in first (ties by handle, so racers agree).
 * `device` opens a record's sealed User-Agent and IP (listSessions passes it; others need none).
 */
export async function ownedRecords(ctx: UserContext, server: ServerStore, owner: string, device?: (user: StoredUser) => DeviceInfo): Promise<OwnedRecord[]> {
  const users = server.users;
  if (!users) {
    throw new SessionUnsupportedError("this store cannot list a user's sessions: it has no listByOwner() method (see the store contract)");
  }
  const found = await ctx.call("listByOwner", (o) => users.list(owner, o));
  const now = ctx.now();
  const owned: OwnedRecord[] = [];
  for (const { key, record } of found) {
    const envelope = ctx.live(record.data, record.expiresAt);
    const user = envelope?.user;
    if (!envelope || !user || user.owner !== owner) continue; // stale entry: not this user's any more
    const lastSeen = Math.max(user.lastWriteAt, Math.min(now, record.expiresAt - ctx.idleTimeout));
    const info: SessionInfo = {
      handle: user.handle ?? handleOfKey(key),
      createdAt: new Date(envelope.createdAt),
      signedInAt: new Date(user.signedInAt),
      lastSeenAt: new Date(lastSeen),
      expiresAt: new Date(record.expiresAt),
      bound: user.binding !== undefined,
      authenticatedAt: new Date(user.authenticatedAt),
    };
    if (user.authMethod !== undefined) info.authMethod = user.authMethod;
    if (user.lifetime?.persistent !== undefined) info.persistent = user.lifetime.persistent;
    const { userAgent, ip } = device && user.sealedDevice !== undefined ? device(user) : user;
    if (userAgent !== undefined) info.userAgent = userAgent;
    if (ip !== undefined) info.ip = ip;
    const previous = envelope.renewal?.previous;
    owned.push({ key, owner, info, forward: previous && previous.graceUntil > now ? previous.key : undefined });
  }
  return owned.sort(newestFirst);
}

/** ownedRecords of each of a user's owner keys (at-rest.ts), merged in the same order. */
export async function ownedByAny(ctx: UserContext, server: ServerStore, owners: readonly string[], device?: (user: StoredUser) => DeviceInfo): Promise<OwnedRecord[]> {
  if (owners.length === 1) return ownedRecords(ctx, server, owners[0]!, device);
  const lists = await Promise.all(owners.map((owner) => ownedRecords(ctx, server, owner, device)));
  return lists.flat().sort(newestFirst);
}

/**
 * One entry per session: while a rotation runs, its old and new records are both live and share
 * the handle. The first of each handle in `owned`'s order is kept.
 */
export function distinctSessions(owned: OwnedRecord[]): OwnedRecord[] {
  const seen = new Set<string>();
  return owned.filter((record) => !seen.has(record.info.handle) && seen.add(record.info.handle));
}

function newestFirst(a: OwnedRecord, b: OwnedRecord): number {
  const bySignIn = b.info.signedInAt.getTime() - a.info.signedInAt.getTime();
  return bySignIn !== 0 ? bySignIn : a.info.handle < b.info.handle ? -1 : a.info.handle > b.info.handle ? 1 : 0;
}

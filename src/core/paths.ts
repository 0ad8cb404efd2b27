/**
 * What the two ways of keeping a session share: the manager picks one path per store, once
 * (server-path.ts for a SessionStore, cookie-path.ts for a ClientSideStore), and calls it to
 * find a session by its token and to prepare a commit.
 */
import type { StoredUser } from "./envelope.js";
import { handleOfKey, openUserId, rememberSealedDevice } from "./envelope.js";
import type { SessionHeader } from "./node-http.js";
import type { SecureFlag, Session, SessionInternals } from "./session.js";
import type { Awaitable } from "./store.js";

/** The two halves of a commit: headers known now, the store write still running. */
export interface PreparedCommit {
  headers: SessionHeader[];
  persisted: Promise<void>;
  /** False when there is no store write to wait for, so the response can go out synchronously. */
  pending: boolean;
}

export interface SessionPath<T extends object> {
  /** The session of a token the client sent, or null (unknown, expired, forged: a fresh session follows). */
  find(token: string, now: number, secure: SecureFlag): Awaitable<Session<T> | null>;
  /** Encodes now (throwing synchronously) and starts the write, if any. */
  prepare(session: Session<T>, state: SessionInternals): PreparedCommit;
}

export const DONE: Promise<void> = Promise.resolve();

/** A commit with headers to send and nothing to write. */
export function sendOnly(headers: SessionHeader[]): PreparedCommit {
  return { headers, persisted: DONE, pending: false };
}

/** The state after a commit stored everything. */
export function committed<T extends object>(session: Session<T>, state: SessionInternals, expiresAt: number): void {
  state.changes = undefined;
  state.status = "unmodified";
  state.sendCookie = false;
  state.clientHasCookie = true;
  state.storedExpiresAt = expiresAt;
  session.isNew = false;
}

/**
 * The signed-in user of a loaded record; false when the sealed user id does not open with this
 * token (a forged or foreign record). `key` is what the session was loaded under.
 */
export function restoreUser(state: SessionInternals, stored: StoredUser, token: string, key: string): boolean {
  const id = openUserId(stored.sealedId, token);
  if (id === null) return false;
  const { owner, signedInAt, userAgent, ip, sealedId, fence, authenticatedAt, authMethod, lifetime, binding } = stored;
  // Records of 0.2 previews carry no handle: the one derived from the key they were loaded under.
  const handle = stored.handle ?? handleOfKey(key);
  state.user = { id, owner, signedInAt, userAgent, ip, fresh: false, sealedId, handle, fence, authenticatedAt, authMethod, lifetime, binding };
  // Only listSessions reads the device: a load keeps its seal as stored, unopened.
  rememberSealedDevice(state.user, stored.sealedDevice);
  return true;
}

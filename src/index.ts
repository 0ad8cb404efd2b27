export { SessionManager } from "./core/manager.js";
export type { LoadContext, PreparedCommit, SessionHeader } from "./core/manager.js";
export { Session } from "./core/session.js";
export type { SessionData, SessionKey, SessionStatus, SessionValue } from "./core/session.js";
export type { SessionManagerOptions, SessionMigration } from "./core/options.js";
export type { SessionInfo } from "./core/users.js";
export type { DbscAlgorithm, DbscOptions } from "./core/dbsc/index.js";
export { serveDbsc, serveDbscFetch } from "./core/dbsc/index.js";
export type { SessionEvent, SessionEventListener, SessionEventType } from "./core/events.js";
export { SESSIONKIT_CHANNELS } from "./core/tracing.js";
export type { SessionEnded, SessionTrace } from "./core/tracing.js";
export type { DeviceSource, SecureFlag, SessionLifetime, SignInOptions } from "./core/session.js";
export type { CookieOptions } from "./core/cookies.js";
export type { Duration } from "./core/duration.js";
export { jsonCodec } from "./core/codec.js";
export type { SessionCodec } from "./core/codec.js";
export { hashToken } from "./core/ids.js";
export {
  SessionConflictError,
  SessionEncodeError,
  SessionError,
  SessionLimitError,
  SessionHeadersSentError,
  SessionStoreError,
  SessionTooLargeError,
  SessionUnsupportedError,
} from "./core/errors.js";
export type {
  AnyStore,
  Awaitable,
  ClientSideStore,
  OpenedCookie,
  SessionStore,
  SessionWrite,
  StoreCallOptions,
  StoredSession,
  OwnedSession,
} from "./core/store.js";
export { MemoryStore } from "./stores/memory.js";
export type { MemoryStoreOptions } from "./stores/memory.js";

import type { SessionCodec } from "./codec.js";
import { jsonCodec } from "./codec.js";
import type { CookieOptions, ResolvedCookieOptions } from "./cookies.js";
import { resolveCookieOptions } from "./cookies.js";
import type { Duration } from "./duration.js";
import { toMilliseconds } from "./duration.js";
import type { SessionEventListener } from "./events.js";
import type { DbscOptions, ResolvedDbsc } from "./dbsc/options.js";
import { resolveDbsc } from "./dbsc/options.js";
import type { AtRest } from "./at-rest.js";
import { atRestKeys } from "./at-rest.js";
import { checkSecretList } from "./secrets.js";
import type { AnyStore, SessionStore } from "./store.js";

/** Moves sessions of another library into sessionkit on first sight (see sessionkit/express-session). */
export interface SessionMigration {
  /** The legacy cookie's name. */
  readonly cookieName: string;
  /** The legacy session's data, removed from the legacy store; null for a forged, expired or unknown cookie. */
  take(cookieValue: string): Promise<Record<string, unknown> | null>;
  /**
   * True when `take` would find a live legacy session for this value, without removing it. Asked
   * only when a request carries two or more different legacy cookies: one that verifies is
   * taken, two or more take none ("ambiguous-cookie"). Without it, such a request migrates none.
   */
  verify?(cookieValue: string): Promise<boolean>;
  /** The Set-Cookie value that removes the legacy cookie. */
  expireCookie(secure: boolean): string;
}

export interface SessionManagerOptions {
  /** Where sessions live. Give either `store` or `provider`. */
  store?: AnyStore;
  /**
   * A registered provider name ("memory", "file", "cookie", "redis", "postgresql", "mysql", or your own).
   * @deprecated Goes in the next minor release: pass `store: await createStore(provider, providerConfig)`
   * from `sessionkit/providers`. Until then it works where that module is loaded (on Node, Bun and
   * Deno, `sessionkit` loads it), with a one-time warning.
   */
  provider?: string;
  /**
   * The provider's configuration string (beego style).
   * @deprecated With `provider`.
   */
  providerConfig?: string;
  cookie?: CookieOptions;
  /** Default "30m": sliding expiry after the last request that used the session (OWASP: 15–30 min for most apps). */
  idleTimeout?: Duration;
  /** Default "24h": hard cap from creation, never extended, so a stolen token dies eventually. */
  absoluteTimeout?: Duration;
  /**
   * Default: `idleTimeout`. The longest idle timeout `signIn(userId, { idleTimeout })` may give
   * one session, so an app cannot be made to hand out a session that never idles out.
   */
  maxIdleTimeout?: Duration;
  /**
   * Default: `absoluteTimeout`. The longest absolute lifetime `signIn(userId, { absoluteTimeout })`
   * may give one session ("remember me" for 30 days: raise this, keep `absoluteTimeout` short).
   */
  maxAbsoluteTimeout?: Duration;
  /**
   * Default off. Server stores only: a session whose id is older than this since its last
   * rotation (sign-in, regenerate, renewal) gets a new id on its next response (OWASP: renew the
   * id periodically, not only at login). The previous id keeps working for `renewGrace`, so
   * requests already in flight with it (two tabs, a slow upload) still load and write the
   * session; the id before that is dead. Refused with a cookie store, which has no id to retire.
   */
  renewInterval?: Duration;
  /**
   * Default "30s" (with `renewInterval`): how long the immediately previous id still loads the
   * session after a renewal. Needs `renewInterval`.
   */
  renewGrace?: Duration;
  /** Default "1m": an unmodified session's expiry is re-written at most this often, saving store writes. */
  touchInterval?: Duration;
  /**
   * Default undefined: optional HMAC-SHA256 signing of the cookie value; the first signs, all verify.
   * Each at least 32 characters with at least 72 bits of estimated entropy (see secrets.ts).
   */
  secrets?: readonly string[];
  /** Default true: the store sees SHA-256(token), so a store dump holds no usable token. */
  hashIds?: boolean;
  /** Default "10m": how often store.gc() runs for stores without native expiry; 0 turns it off. */
  gcInterval?: Duration;
  /** Default undefined: read and write the token in this header instead of a cookie (API clients). */
  header?: string;
  /** Default JSON plus Date. */
  codec?: SessionCodec;
  /** Default 65536: largest encoded session in bytes; larger fails commit with SessionTooLargeError. */
  maxSize?: number;
  /**
   * Default "5s", at most "30s": every store call that takes longer rejects with SessionStoreError.
   * The bound lets a store drop an owner index entry whose record never came (PENDING_GRACE_MS in
   * store.ts). 0 = no limit, for tools that never sign anyone in (the CLI).
   */
  storeTimeout?: Duration;
  /** Default Date.now: the clock, injectable for tests. */
  now?: () => number;
  /** Default undefined: adopt sessions of a previous session library (see sessionkit/express-session). */
  migrateFrom?: SessionMigration;
  /**
   * Default none: at most this many live sessions per signed-in user (OWASP ASVS V7.1.2 asks
   * for a documented limit). What happens at the limit is `sessionLimit`.
   */
  maxSessionsPerUser?: number;
  /**
   * Default "evict-oldest": a sign-in over the limit ends the user's oldest sessions (OWASP
   * prefers this to locking users out). "reject" makes signIn reject with SessionLimitError.
   */
  sessionLimit?: "evict-oldest" | "reject";
  /** Default true: record the User-Agent (first 256 characters) and client IP at sign-in, for listSessions. */
  deviceInfo?: boolean;
  /**
   * Default none: called synchronously for "created", "signed-in", "regenerated", "destroyed",
   * "revoked", "evicted", "expired" and "ambiguous-cookie", for audit logs. An exception in it never breaks
   * a request (it becomes a process warning).
   */
  onEvent?: SessionEventListener;
  /**
   * Default off. Device Bound Session Credentials: a sign-in response offers the browser to bind
   * the session to a key it keeps on the device; a bound session then loads only with a
   * short-lived cookie renewed against a signature of that key (docs/security.md, "Stolen cookies").
   * Needs a server-side store and cookie transport.
   */
  dbsc?: DbscOptions | false;
  /**
   * Default none. Cookie sessions only: a server-side store (Redis, SQL, …) that remembers
   * revokeUser/revokeSession of signed-in cookie sessions, which the server cannot otherwise
   * end before they expire. Each load of a signed-in cookie session then costs one read of it.
   */
  revocations?: SessionStore;
  /**
   * Default none. A server secret (at least 32 characters and 72 estimated bits, as `secrets`)
   * that keys what a store keeps about signed-in users: the owner key every store indexes becomes
   * HMAC-SHA256 of the user id instead of SHA-256 (which a dump reverses for a guessable id), and
   * the User-Agent and IP are sealed under it. It is not rotated with `secrets`: changing it
   * orphans the sessions indexed under the old one. See docs/security.md, "What a store dump shows".
   */
  atRestSecret?: string;
}

export interface ResolvedOptions {
  cookie: ResolvedCookieOptions;
  idleTimeout: number;
  absoluteTimeout: number;
  maxIdleTimeout: number;
  maxAbsoluteTimeout: number;
  touchInterval: number;
  /** 0: off. */
  renewInterval: number;
  renewGrace: number;
  secrets: readonly string[] | undefined;
  hashIds: boolean;
  gcInterval: number;
  header: string | undefined;
  codec: SessionCodec;
  maxSize: number;
  storeTimeout: number;
  now: () => number;
  migrateFrom: SessionMigration | undefined;
  maxSessionsPerUser: number | undefined;
  sessionLimit: "evict-oldest" | "reject";
  deviceInfo: boolean;
  onEvent: SessionEventListener | undefined;
  dbsc: ResolvedDbsc | undefined;
  revocations: SessionStore | undefined;
  atRest: AtRest;
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function resolveOptions(options: SessionManagerOptions): ResolvedOptions {
  if (options === null || typeof options !== "object") throw new TypeError("SessionManager needs an options object");
  const resolved: ResolvedOptions = {
    cookie: resolveCookieOptions(options.cookie),
    idleTimeout: toMilliseconds(options.idleTimeout ?? "30m", "idleTimeout"),
    absoluteTimeout: toMilliseconds(options.absoluteTimeout ?? "24h", "absoluteTimeout"),
    maxIdleTimeout: 0,
    maxAbsoluteTimeout: 0,
    touchInterval: toMilliseconds(options.touchInterval ?? "1m", "touchInterval"),
    renewInterval: toMilliseconds(options.renewInterval ?? 0, "renewInterval"),
    renewGrace: toMilliseconds(options.renewGrace ?? "30s", "renewGrace"),
    secrets: options.secrets === undefined ? undefined : checkSecretList(options.secrets, 'option "secrets"'),
    hashIds: options.hashIds ?? true,
    gcInterval: toMilliseconds(options.gcInterval ?? "10m", "gcInterval"),
    header: checkHeader(options.header),
    codec: options.codec ?? jsonCodec,
    maxSize: options.maxSize ?? 64 * 1024,
    storeTimeout: toMilliseconds(options.storeTimeout ?? "5s", "storeTimeout"),
    now: options.now ?? Date.now,
    migrateFrom: options.migrateFrom,
    maxSessionsPerUser: options.maxSessionsPerUser,
    sessionLimit: options.sessionLimit ?? "evict-oldest",
    deviceInfo: options.deviceInfo ?? true,
    onEvent: options.onEvent,
    dbsc: resolveDbsc(options.dbsc, options.header !== undefined),
    revocations: options.revocations,
    atRest: atRestKeys(options.atRestSecret === undefined ? undefined : checkSecretList([options.atRestSecret], 'option "atRestSecret"')[0]),
  };
  checkUserOptions(options);
  if (resolved.storeTimeout > 30_000) {
    throw new TypeError(`option "storeTimeout" must be at most "30s" (0 turns it off); got ${JSON.stringify(options.storeTimeout)}`);
  }
  if (options.renewGrace !== undefined && resolved.renewInterval === 0) {
    throw new TypeError('option "renewGrace" needs option "renewInterval" (how often a session gets a new id)');
  }
  if (resolved.idleTimeout === 0 || resolved.absoluteTimeout === 0) {
    throw new TypeError('options "idleTimeout" and "absoluteTimeout" must be greater than 0');
  }
  resolved.maxIdleTimeout = Math.max(resolved.idleTimeout, toMilliseconds(options.maxIdleTimeout ?? 0, "maxIdleTimeout"));
  resolved.maxAbsoluteTimeout = Math.max(resolved.absoluteTimeout, toMilliseconds(options.maxAbsoluteTimeout ?? 0, "maxAbsoluteTimeout"));
  if (!Number.isInteger(resolved.maxSize) || resolved.maxSize <= 0) {
    throw new TypeError(`option "maxSize" must be a positive whole number of bytes; got ${String(options.maxSize)}`);
  }
  if (typeof resolved.codec?.encode !== "function" || typeof resolved.codec.decode !== "function") {
    throw new TypeError('option "codec" must have encode(data) and decode(text) methods');
  }
  const legacy = resolved.migrateFrom?.cookieName;
  if (legacy !== undefined && !resolved.header && legacy === resolved.cookie.name) {
    // Expiring the legacy cookie would delete the new session cookie of the same name.
    throw new TypeError(`option "migrateFrom": the legacy cookie "${legacy}" must differ from cookie.name`);
  }
  if (typeof options.hashIds !== "undefined" && typeof options.hashIds !== "boolean") {
    throw new TypeError('option "hashIds" must be true or false');
  }
  return resolved;
}

function checkUserOptions(options: SessionManagerOptions): void {
  const max = options.maxSessionsPerUser;
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
    throw new TypeError(`option "maxSessionsPerUser" must be a positive whole number; got ${String(max)}`);
  }
  if (options.sessionLimit !== undefined && options.sessionLimit !== "evict-oldest" && options.sessionLimit !== "reject") {
    throw new TypeError('option "sessionLimit" must be "evict-oldest" or "reject"');
  }
  if (options.deviceInfo !== undefined && typeof options.deviceInfo !== "boolean") throw new TypeError('option "deviceInfo" must be true or false');
  if (options.onEvent !== undefined && typeof options.onEvent !== "function") throw new TypeError('option "onEvent" must be a function');
  const revocations = options.revocations;
  if (revocations !== undefined && (typeof revocations?.get !== "function" || typeof revocations.set !== "function")) {
    throw new TypeError('option "revocations" must be a server-side SessionStore (get and set), such as a RedisStore');
  }
}

function checkHeader(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== "string" || !HEADER_NAME.test(header)) {
    throw new TypeError(`option "header" must be an HTTP header name such as "x-session-token"; got ${JSON.stringify(header)}`);
  }
  return header.toLowerCase();
}

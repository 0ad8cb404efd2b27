/**
 * The Session a request holds: its data map, its status, its user, and the methods an app calls
 * on it. Over 400 lines because the class is public API, each member documented where declared;
 * what a method does in the store lives in identity.ts and the manager's paths.
 */
import type { Binding } from "./dbsc/binding.js";
import { inspect } from "node:util";
import { SessionError } from "./errors.js";
import type { Duration } from "./duration.js";
import { toMilliseconds } from "./duration.js";
import type { FenceMark } from "./fence.js";
import type { Renewal } from "./envelope.js";

/**
 * The shape of session data. Declare yours once, by module augmentation:
 *   declare module "sessionkit" { interface SessionData { user?: string } }
 * or pass it as the type parameter of SessionManager.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SessionData {}

/** Keys of T that are strings; with an empty T any string is allowed. */
export type SessionKey<T> = keyof T extends never ? string : Extract<keyof T, string>;
export type SessionValue<T, K> = K extends keyof T ? T[K] : unknown;

/** What the manager does with a session at commit. */
export type SessionStatus = "unmodified" | "modified" | "destroyed";

const DELETED: unique symbol = Symbol("deleted");

/** The manager operations a Session needs; implemented by SessionManager. */
export interface SessionHost {
  newToken(): string;
  now(): number;
  expiresAt(state: SessionInternals): number;
  handleOf(state: SessionInternals): string;
  regenerate(state: SessionInternals): Promise<void>;
  signIn(state: SessionInternals, userId: string, options: SignInOptions): Promise<void>;
  reauthenticated(state: SessionInternals, method: string | undefined): Promise<void>;
  destroy(state: SessionInternals): Promise<void>;
}

/** Where a request came from, read only when a user signs in (Express's req, Koa's ctx, …). */
export interface DeviceSource {
  readonly ip?: string | undefined;
  readonly headers?: Readonly<Record<string, unknown>> | Headers;
  readonly socket?: { readonly remoteAddress?: string | undefined };
}

/** How a user signed in, and how long this one session may live (see Session.signIn). */
export interface SignInOptions {
  /**
   * How the user proved who they are: a short string such as "password", "webauthn",
   * "oauth:github" (at most 64 characters). Read back as `authMethod`; `isFresh` can require it.
   */
  method?: string;
  /**
   * This session's cookie: false gives a browser-session cookie (no Max-Age: "don't remember me"
   * on a shared computer), true one that lasts to the absolute deadline. Default: `cookie.persistent`.
   */
  persistent?: boolean;
  /** This session's idle timeout, at most the manager's `maxIdleTimeout`. Default: `idleTimeout`. */
  idleTimeout?: Duration;
  /** This session's absolute lifetime, at most the manager's `maxAbsoluteTimeout`. Default: `absoluteTimeout`. */
  absoluteTimeout?: Duration;
}

/** What a session signed in with: `SignInOptions` resolved (milliseconds), kept in the record. */
export interface SessionLifetime {
  persistent: boolean | undefined;
  idleTimeout: number | undefined;
  absoluteTimeout: number | undefined;
}

/** The user a session is signed in as, and the device it was signed in from. */
export interface SignedInUser {
  id: string;
  /** The user's key at rest: SHA-256 of the id, or HMAC with atRestSecret (at-rest.ts), so an email never lands in a key or column. */
  owner: string;
  signedInAt: number;
  userAgent: string | undefined;
  ip: string | undefined;
  /** True from signIn until the first write under the new id (index entry, cap, event). */
  fresh: boolean;
  /** The id sealed under the current token; reset whenever the token changes. */
  sealedId: string | undefined;
  /** Set once the session is bound to a device key (option `dbsc`). */
  binding?: Binding;
  /** When the user last proved who they are (signIn or reauthenticated), by the server's clock. */
  authenticatedAt: number;
  authMethod: string | undefined;
  lifetime: SessionLifetime | undefined;
  /** The session's public name, fixed at sign-in and kept across rotations (see Session.handle). */
  handle: string | undefined;
  /** The user's fence as the sign-in saw it: a rotation checks the revocations made since. */
  fence: FenceMark | undefined;
}

/** Internal state shared with the manager; not part of the public API. */
export interface SessionInternals {
  token: string | undefined;
  /** Store key of the persisted record, or undefined when nothing is stored yet. */
  storedKey: string | undefined;
  version: number;
  data: Map<string, unknown>;
  /** Keys set or deleted since load, replayed on top of a fresher record after a write conflict. */
  changes: Map<string, unknown> | undefined; // made on the first write: most requests only read
  status: SessionStatus;
  /** The write found the record destroyed, rotated or expired by another request: nothing was stored. */
  superseded: boolean;
  /** A commit has started (headers are going out): changes from now on would be lost, so they throw. */
  committing: boolean;
  /** The cookie must be sent even if nothing else changed (new id, re-signed, re-sealed). */
  sendCookie: boolean;
  /** The client holds a cookie for this session, so a destroy must expire it. */
  clientHasCookie: boolean;
  /** Expiry of the stored record as loaded, for touch decisions. */
  storedExpiresAt: number;
  createdAt: number;
  /** When this request began using the session: the start of the idle window. */
  usedAt: number;
  /** Whether the cookie gets Secure: a function (the request's TLS or proxy flag) is asked once, when a cookie is made. */
  secure: SecureFlag;
  user: SignedInUser | undefined;
  device: DeviceSource | undefined;
  /** Further Set-Cookie values for this response (e.g. expiring a migrated legacy cookie). */
  extraCookies: string[] | undefined;
  /** The last rotation and the previous id's forward (option `renewInterval`), as stored. */
  renewal: Renewal | undefined;
  /** This request followed a renewal's forward to the current record: it never follows another. */
  followed: boolean;
}

export const INTERNALS: unique symbol = Symbol("sessionkit.internals");

/**
 * One client's session for the span of a request. Reads and writes are synchronous and
 * stay in memory until the manager commits them.
 */
export class Session<T extends object = SessionData> {
  /** @internal */
  readonly [INTERNALS]: SessionInternals;
  readonly #host: SessionHost;
  /** True until the session has been stored once. */
  isNew: boolean;

  /** @internal */
  constructor(host: SessionHost, internals: SessionInternals, isNew: boolean) {
    this.#host = host;
    this[INTERNALS] = internals;
    this.isNew = isNew;
  }

  get createdAt(): Date {
    return new Date(this[INTERNALS].createdAt);
  }

  /** The token the client holds (cookie or header value before signing). Made on first use. */
  get id(): string {
    const state = this[INTERNALS];
    return (state.token ??= this.#host.newToken());
  }

  /** min(last use + idleTimeout, createdAt + absoluteTimeout). */
  get expiresAt(): Date {
    return new Date(this.#host.expiresAt(this[INTERNALS]));
  }

  /** True once the browser bound this session to a device key (option `dbsc`): it then loads only with a fresh proof. */
  get bound(): boolean {
    return this[INTERNALS].user?.binding !== undefined;
  }

  get modified(): boolean {
    return this[INTERNALS].status === "modified";
  }

  get destroyed(): boolean {
    return this[INTERNALS].status === "destroyed";
  }

  /**
   * True when this request's changes were not stored because another request had destroyed,
   * rotated or expired the session first (`destroyed` is then true as well, and no cookie is sent).
   */
  get superseded(): boolean {
    return this[INTERNALS].superseded;
  }

  /** The user this session is signed in as (see signIn), or undefined. */
  get userId(): string | undefined {
    return this[INTERNALS].user?.id;
  }

  /** When the user last proved who they are (signIn, or reauthenticated), or undefined when signed out. */
  get authenticatedAt(): Date | undefined {
    const user = this[INTERNALS].user;
    return user ? new Date(user.authenticatedAt) : undefined;
  }

  /** How the user last proved who they are (`signIn`'s or `reauthenticated`'s `method`). */
  get authMethod(): string | undefined {
    return this[INTERNALS].user?.authMethod;
  }

  /**
   * Whether the user proved who they are within `maxAge` (and, with `methods`, by one of them):
   * ask it before a sensitive change — email, password, MFA, ending other sessions (OWASP ASVS
   * V7.5.1, V7.5.3). Counted from the last authentication, not from the session's creation.
   */
  isFresh(maxAge: Duration, options: { methods?: readonly string[] } = {}): boolean {
    const user = this[INTERNALS].user;
    if (!user) return false;
    if (options.methods && (user.authMethod === undefined || !options.methods.includes(user.authMethod))) return false;
    return this.#host.now() - user.authenticatedAt <= toMilliseconds(maxAge, "maxAge");
  }

  /**
   * A public, non-secret name of this session for lists and "sign out that device": derived one
   * way from the stored key, so neither the token nor the key can be computed from it. A
   * signed-in session keeps the handle it got at sign-in across regenerate(), so a handle listed
   * once still names the session for revokeSession and `except`; signIn gives a new one.
   */
  get handle(): string {
    return this.#host.handleOf(this[INTERNALS]);
  }

  get<K extends SessionKey<T>>(key: K): SessionValue<T, K> | undefined {
    return this[INTERNALS].data.get(key) as SessionValue<T, K> | undefined;
  }

  /**
   * Setting undefined deletes the key. After this request's own destroy(), the first set starts
   * a fresh session; after another request ended it (`superseded`) a set is ignored: a sign-in
   * that lost to a sign-out must not come back as a new session carrying the app's sign-in data.
   */
  set<K extends SessionKey<T>>(key: K, value: SessionValue<T, K>): this {
    if (this.#notCommitting().superseded) return this;
    if (value === undefined) {
      this.delete(key);
      return this;
    }
    const state = this.#writable();
    state.data.set(key, value);
    (state.changes ??= new Map()).set(key, value);
    state.status = "modified";
    return this;
  }

  has(key: SessionKey<T>): boolean {
    return this[INTERNALS].data.has(key);
  }

  delete(key: SessionKey<T>): boolean {
    const state = this.#notCommitting();
    if (!state.data.has(key)) return false;
    state.data.delete(key);
    (state.changes ??= new Map()).set(key, DELETED);
    state.status = "modified";
    return true;
  }

  /** Reads and removes a value: flash messages. */
  pop<K extends SessionKey<T>>(key: K): SessionValue<T, K> | undefined {
    const value = this.get(key);
    this.delete(key);
    return value;
  }

  /**
   * Removes every value this request can see (beego's Flush); the session and its id stay.
   * A key another request adds meanwhile survives: only the keys seen here are deleted.
   */
  clear(): void {
    const state = this.#notCommitting();
    if (state.data.size === 0) return;
    const changes = (state.changes ??= new Map());
    for (const key of state.data.keys()) changes.set(key, DELETED);
    state.data.clear();
    state.status = "modified";
  }

  keys(): Array<SessionKey<T>> {
    return [...this[INTERNALS].data.keys()] as Array<SessionKey<T>>;
  }

  /** A plain-object copy of the data (own properties only, no prototype surprises). */
  toJSON(): Partial<T> {
    return Object.fromEntries(this[INTERNALS].data) as Partial<T>;
  }

  /**
   * New id, same data; the old id stops loading at once. Call it on privilege change (signIn
   * calls it for you). If another request destroyed or rotated the session meanwhile, no new
   * record is made and the session ends `destroyed` (and `superseded`).
   */
  regenerate(): Promise<void> {
    return this.#storeStep((state) => this.#host.regenerate(state));
  }

  /**
   * Signs the session in as `userId`: a new id (regenerate, same data) bound to the user, which
   * listSessions/revokeUser then find. Applies `maxSessionsPerUser`. `userId` is a non-empty
   * string of at most 256 characters.
   */
  signIn(userId: string, options: SignInOptions = {}): Promise<void> {
    // After destroy, a fresh session signs in.
    return this.#storeStep(() => this.#host.signIn(this.#writable(), userId, options));
  }

  /**
   * Records that the signed-in user just proved who they are again (a password re-entered, a
   * WebAuthn assertion): `authenticatedAt` becomes now, `authMethod` the method given, and the id
   * rotates, as any privilege change must. Rejects with ERR_SESSION_NOT_SIGNED_IN when signed out.
   */
  reauthenticated(options: { method?: string } = {}): Promise<void> {
    return this.#storeStep((state) => this.#host.reauthenticated(state, options.method));
  }

  /** Removes the session from the store now; the next commit expires the cookie. */
  destroy(): Promise<void> {
    return this.#storeStep((state) => this.#host.destroy(state));
  }

  /** Shows the data keys and the handle, never the token: sessions end up in logs. */
  [inspect.custom](): string {
    const state = this[INTERNALS];
    const user = state.user ? ` user=${JSON.stringify(state.user.id)}` : "";
    return `Session { handle=${state.token ? this.handle : "(none yet)"}${user} keys=${JSON.stringify(this.keys())} status=${state.status} }`;
  }

  toString(): string {
    return this[inspect.custom]();
  }

  /** A step that talks to the store: refused once the commit started, and failing as a rejection, never a throw. */
  #storeStep(run: (state: SessionInternals) => Promise<void>): Promise<void> {
    try {
      return run(this.#notCommitting());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #notCommitting(): SessionInternals {
    const state = this[INTERNALS];
    if (state.committing) {
      throw new SessionError(
        "ERR_SESSION_COMMITTED",
        "the session is already being committed (the response headers went out): change it before the response starts",
      );
    }
    return state;
  }

  #writable(): SessionInternals {
    const state = this[INTERNALS];
    if (state.status === "destroyed") {
      // A write after logout (a flash "you are logged out") begins a new session with a new id.
      state.token = undefined;
      state.storedKey = undefined;
      state.version = 0;
      state.user = undefined;
      state.superseded = false;
      state.sendCookie = true;
      state.createdAt = state.usedAt = this.#host.now();
      this.isNew = true;
    }
    return state;
  }
}

/** Applies changed keys on top of a fresher copy of the data (conflict merge). */
export function replayChanges(base: Map<string, unknown>, state: SessionInternals): Map<string, unknown> {
  for (const [key, value] of state.changes ?? []) {
    if (value === DELETED) base.delete(key);
    else base.set(key, value);
  }
  return base;
}

/**
 * A request's HTTPS flag, or a function that reads it: Express's `req.secure` is a getter that
 * applies the trust-proxy setting, and most requests send no cookie, so adapters pass it as a
 * function that runs only for one.
 */
export type SecureFlag = boolean | (() => boolean);

/** The session's Secure flag, read (and kept) the first time a cookie needs it. */
export function isSecure(state: SessionInternals): boolean {
  const flag = state.secure;
  return typeof flag === "boolean" ? flag : (state.secure = flag() === true);
}

/** The state of a session not yet stored; a loaded session passes its decoded data, a new one starts empty. */
export function newState(now: number, secure: SecureFlag, createdAt = now, data: Map<string, unknown> = new Map()): SessionInternals {
  return {
    token: undefined,
    storedKey: undefined,
    version: 0,
    data,
    changes: undefined,
    status: "unmodified",
    superseded: false,
    committing: false,
    sendCookie: false,
    clientHasCookie: false,
    storedExpiresAt: 0,
    createdAt,
    usedAt: now,
    secure,
    user: undefined,
    device: undefined,
    extraCookies: undefined,
    renewal: undefined,
    followed: false,
  };
}

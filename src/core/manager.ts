import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { readCookie, readSessionCookie, serializeExpiredCookie, serializeSessionCookie } from "./cookies.js";
import type { Envelope, StoredUser } from "./envelope.js";
import { decodeEnvelope, encodeEnvelope, handleOfKey, openUserId, userMeta } from "./envelope.js";
import {
  SessionError,
  SessionHeadersSentError,
  SessionStoreError,
  SessionTooLargeError,
  SessionUnsupportedError,
} from "./errors.js";
import type { SessionEvent, SessionEventType } from "./events.js";
import { emitSafely } from "./events.js";
import { generateToken, hashToken, isWellFormedToken, signToken, verifySignedToken } from "./ids.js";
import type { ResolvedOptions, SessionManagerOptions } from "./options.js";
import { resolveOptions } from "./options.js";
import { getProvider } from "./providers.js";
import type { RecordContext } from "./records.js";
import type { RevocationContext } from "./revocations.js";
import { isRevoked } from "./revocations.js";
import { touchRecord, writeRecord } from "./records.js";
import type { DeviceSource, SessionData, SessionHost, SecureFlag, SessionInternals } from "./session.js";
import { INTERNALS, Session, isSecure, newState } from "./session.js";
import type { AnyStore, Awaitable, ClientSideStore, SessionStore, StoreCallOptions, StoredSession } from "./store.js";
import { checkStore, isClientSideStore } from "./store.js";
import { StoreCalls } from "./store-call.js";
import type { SessionInfo, UserContext } from "./users.js";
import type { ManagerCore } from "./identity.js";
import { destroy, indexOwner, listSessions, regenerate, revokeSession, revokeUser, signIn, signedIn, supersede } from "./identity.js";
import type { SessionHeader } from "./node-http.js";
import { applyFetchHeaders, applyNodeHeaders, isSecureRequest } from "./node-http.js";
import { warnInsecureCookie, warnOnce } from "./warnings.js";
import { admitBound, checkDbscStore, registrationOffer } from "./dbsc/binding.js";
import type { DbscHost } from "./dbsc/handler.js";
import { DBSC_HOST } from "./dbsc/handler.js";
import { dbscHost } from "./dbsc/host.js";

/** Where the request came from, for the transport-free `load`. */
export interface LoadContext {
  /**
   * The request arrived over HTTPS; decides Secure when cookie.secure is "auto". Default false.
   * A function is called only if this request sends a cookie (most do not), and at most once.
   */
  secure?: SecureFlag;
  /** The raw Cookie header, needed only by `migrateFrom` to find a legacy cookie. */
  cookieHeader?: string;
  /**
   * Where the request came from (Express's `req`, Koa's `ctx`, Fastify's `request`, or
   * `{ ip, headers }`): read only if the session signs in, for SessionInfo's userAgent and ip.
   */
  device?: DeviceSource;
}

export type { SessionHeader } from "./node-http.js";
export { applyNodeHeaders } from "./node-http.js";

/** The two halves of a commit: headers known now, the store write still running. */
export interface PreparedCommit {
  headers: SessionHeader[];
  persisted: Promise<void>;
  /** False when there is no store write to wait for, so the response can go out synchronously. */
  pending: boolean;
}

/**
 * The key of `start`'s synchronous form, for sessionkit's adapters (not exported from the
 * package). Registered, so an adapter finds it on a manager from another copy of this module.
 */
export const START_NOW: unique symbol = Symbol.for("sessionkit.startNow");
/** `loadRequest`'s synchronous form, as START_NOW is `start`'s. */
export const LOAD_REQUEST_NOW: unique symbol = Symbol.for("sessionkit.loadRequestNow");

// Browsers drop a Set-Cookie longer than 4096 bytes without a word (RFC 6265bis section 5.6).
const MAX_COOKIE_BYTES = 4096;
const DONE: Promise<void> = Promise.resolve();
/** The commit of a session nobody changed: shared, so a read-only request allocates nothing here. */
const NOTHING: PreparedCommit = Object.freeze({ headers: Object.freeze([]) as unknown as SessionHeader[], persisted: DONE, pending: false });

/** `run`'s result as a promise, a synchronous throw included. */
function settle<V>(run: () => Awaitable<V>): Promise<V> {
  try {
    const value = run();
    return value instanceof Promise ? value : Promise.resolve(value);
  } catch (error) {
    return Promise.reject(error);
  }
}

function sendOnly(headers: SessionHeader[]): PreparedCommit {
  return { headers, persisted: DONE, pending: false };
}

/**
 * Loads, tracks and commits sessions. Transport-free at its core (`load`/`commit`), with
 * node:http (`start`/`release`) and Fetch (`loadRequest`/`commitResponse`) pairs on top.
 */
export class SessionManager<T extends object = SessionData> {
  readonly #options: ResolvedOptions;
  #store: AnyStore | undefined;
  #storePromise: Promise<AnyStore> | undefined;
  readonly #ownsStore: boolean;
  #gcTimer: NodeJS.Timeout | undefined;
  readonly #host: SessionHost;
  /** What the record and user helpers need of this manager; made once. */
  readonly #records: RecordContext & UserContext;
  readonly #revocationContext: RevocationContext;
  /** Every store call goes through it: storeTimeout, its abort signal, typed errors. */
  readonly #storeCalls: StoreCalls;
  /** What the identity functions (rotation, sign-in, revocation) need of this manager. */
  readonly #core: ManagerCore;
  /** NODE_ENV read once: process.env is a call into the runtime on every read (about 1 µs). */
  readonly #inProduction = process.env.NODE_ENV === "production";
  #dbscHost: DbscHost | undefined;

  constructor(options: SessionManagerOptions) {
    this.#options = resolveOptions(options);
    this.#storeCalls = new StoreCalls(this.#options.storeTimeout);
    if (options.store && options.provider) throw new TypeError('give either option "store" or option "provider", not both');
    if (options.store) {
      checkStore(options.store);
      checkDbscStore(this.#options.dbsc, options.store);
      this.#store = options.store;
      this.#ownsStore = false;
      this.#scheduleGc(options.store);
    } else if (options.provider !== undefined) {
      const factory = getProvider(options.provider);
      this.#ownsStore = true;
      // Called now, so a factory that validates its config synchronously throws from here.
      this.#storePromise = Promise.resolve(factory(options.providerConfig ?? "")).then((store) => {
        checkStore(store);
        checkDbscStore(this.#options.dbsc, store);
        this.#store = store;
        this.#scheduleGc(store);
        return store;
      });
      this.#storePromise.catch(() => {}); // surfaced by the first load/commit
    } else {
      throw new TypeError('option "store" is required (a SessionStore such as new MemoryStore()), or give "provider"');
    }
    const now = this.#options.now;
    const { idleTimeout, absoluteTimeout } = this.#options;
    this.#host = {
      newToken: generateToken,
      now,
      expiresAt: (state) => Math.min(state.usedAt + idleTimeout, state.createdAt + absoluteTimeout),
      handleOf: (state) => this.#handleOf(state),
      regenerate: (state) => regenerate(this.#core, state),
      signIn: (state, userId) => signIn(this.#core, state, userId),
      destroy: (state) => destroy(this.#core, state),
    };
    this.#records = {
      call: (operation, run) => this.#call(operation, run),
      encode: (state) => this.#encode(state),
      live: (text, expiresAt) => this.#live(text, expiresAt),
      idleTimeout,
      now,
    };
    this.#revocationContext = { call: (operation, run) => this.#call(operation, run), now, absoluteTimeout };
    this.#core = {
      options: this.#options,
      records: this.#records,
      revocations: this.#revocationContext,
      call: (operation, run) => this.#call(operation, run),
      emit: (type, subject, userId) => this.#emit(type, subject, userId),
      keyOf: (token) => this.#keyOf(token),
      handleOf: (state) => this.#handleOf(state),
      expiresAt: (state) => this.#host.expiresAt(state),
      serverStore: () => this.#serverStoreOrNull(),
    };
  }

  /** The resolved cookie name (or header name in header mode) the token travels in. */
  get tokenName(): string {
    return this.#options.header ?? this.#options.cookie.name;
  }

  /**
   * The session for `token`. Missing, malformed, badly signed, unknown or expired tokens give a
   * fresh session with a new id; a malformed or badly signed token never reaches the store.
   */
  load(token?: string | null, context: LoadContext = {}): Promise<Session<T>> {
    return settle(() => this.#loadNow(token, context));
  }

  /**
   * `load` without the promise when the store answers synchronously (MemoryStore): an adapter
   * that can go on at once saves a tick, which on Express costs more than the whole load.
   */
  #loadNow(token: string | null | undefined, context: LoadContext): Awaitable<Session<T>> {
    const store = this.#store;
    if (!store) return this.#resolveStore().then(() => this.#loadNow(token, context));
    const now = this.#options.now();
    const secure = this.#secure(context.secure);
    let found = token ? this.#find(store, token, now, secure) : null;
    const { dbsc } = this.#options;
    if (dbsc) found = admitBound(found, dbsc, context.cookieHeader, now, (s) => this.#emit("binding-failed", s[INTERNALS], s.userId));
    if (found instanceof Promise) return found.then((session) => this.#withDevice(session ?? this.#fresh(context, now, secure), context));
    return this.#withDevice(found ?? this.#fresh(context, now, secure), context);
  }

  #withDevice(session: Awaitable<Session<T>>, context: LoadContext): Awaitable<Session<T>> {
    if (!context.device) return session;
    if (session instanceof Promise) return session.then((s) => ((s[INTERNALS].device = context.device), s));
    session[INTERNALS].device = context.device;
    return session;
  }

  #find(store: AnyStore, token: string, now: number, secure: SecureFlag): Awaitable<Session<T> | null> {
    return isClientSideStore(store) ? this.#openCookie(store, token, now, secure) : this.#loadStored(store, token, now, secure);
  }

  /** A new, empty session, or the one migrated from a legacy cookie. */
  #fresh(context: LoadContext, now: number, secure: SecureFlag): Awaitable<Session<T>> {
    if (this.#options.migrateFrom && context.cookieHeader) {
      return this.#migrate(context.cookieHeader, now, secure).then((migrated) => migrated ?? this.#session(newState(now, secure), true));
    }
    return this.#session(newState(now, secure), true);
  }

  /** Persists what changed; resolves to the Set-Cookie values to send (empty when none). */
  async commit(session: Session<T>): Promise<string[]> {
    const headers = await this.commitHeaders(session);
    return headers.filter(([name]) => name === "set-cookie").map(([, value]) => value);
  }

  /** Like commit, but returns every header to send, including the token header in header mode. */
  async commitHeaders(session: Session<T>): Promise<SessionHeader[]> {
    let prepared: PreparedCommit;
    try {
      prepared = this.prepareCommit(session);
      await prepared.persisted;
    } finally {
      // This call waited for its write, so the caller may change the session and commit again.
      session[INTERNALS].committing = false;
    }
    return prepared.headers.length > 0 ? prepared.headers : []; // never hand out the shared empty list
  }

  /**
   * For adapters that must emit headers before the store write ends (a streamed response):
   * encodes now (throwing SessionEncodeError / SessionTooLargeError synchronously) and starts the write.
   */
  prepareCommit(session: Session<T>): PreparedCommit {
    const store = this.#store;
    if (!store) throw new SessionError("ERR_SESSION_NOT_LOADED", "commit() called before the store was ready");
    const state = session[INTERNALS];
    // From here the response's headers are being decided: a later change would be lost, so it throws.
    state.committing = true;
    const extra = state.extraCookies;
    state.extraCookies = undefined;
    // Signed in during this request (usedAt is still the load time here): the response that carries the new cookie offers binding.
    const offerBinding = this.#options.dbsc !== undefined && state.user !== undefined && !state.user.binding && state.user.signedInAt >= state.usedAt;
    const prepared = isClientSideStore(store) ? this.#prepareCookie(store, session, state) : this.#prepareStored(store, session, state);
    // Pushed onto the commit's own list, so a sign-in that another one supersedes drops the offer with its cookie.
    if (offerBinding && prepared.headers.length > 0 && !Object.isFrozen(prepared.headers)) {
      prepared.headers.push(["secure-session-registration", registrationOffer(this.#options.dbsc!, state.token!, this.#options.now())]);
    }
    if (!extra) return prepared;
    const headers: SessionHeader[] = [...prepared.headers, ...extra.map((cookie): SessionHeader => ["set-cookie", cookie])];
    return { headers, persisted: prepared.persisted, pending: prepared.pending };
  }

  /**
   * node:http: the session for this request (beego's SessionStart(w, r); `res` is accepted for
   * that shape and not needed). `options.secure` defaults to TLS or Express's `req.secure`; Koa
   * and Fastify pass their proxy-aware flag (`ctx.secure`, `request.protocol`).
   */
  start(req: IncomingMessage, _res?: ServerResponse | null, options: { secure?: SecureFlag; device?: DeviceSource } = {}): Promise<Session<T>> {
    return settle(() => this[START_NOW](req, options));
  }

  /** `start` for sessionkit's own adapters: the Session itself when the store answered synchronously. */
  [START_NOW](req: IncomingMessage, options: { secure?: SecureFlag; device?: DeviceSource } = {}): Awaitable<Session<T>> {
    // Only "auto" needs the request's TLS flag, and only for a cookie: Express's getter costs µs.
    const secure = options.secure ?? (this.#options.cookie.secure === "auto" ? () => isSecureRequest(req) : false);
    const headers = req.headers;
    // Express's req has `ip` (its trust-proxy setting applied); plain node:http falls back to the socket.
    return this.#loadNow(this.#nodeToken(headers), { secure, cookieHeader: headers.cookie, device: options.device ?? (req as DeviceSource) });
  }

  /**
   * node:http: commits and sets the headers on `res` (beego's SessionRelease). Call it before
   * writing the body; rejects with SessionHeadersSentError if a cookie is due but headers are gone.
   */
  release(session: Session<T>, res: ServerResponse): Promise<void> {
    let prepared: PreparedCommit;
    try {
      prepared = this.prepareCommit(session);
    } catch (error) {
      return Promise.reject(error);
    }
    if (res.headersSent && prepared.headers.length > 0) {
      prepared.persisted.catch(() => {});
      return Promise.reject(new SessionHeadersSentError());
    }
    if (!prepared.pending) {
      applyNodeHeaders(res, prepared.headers);
      return DONE;
    }
    return prepared.persisted.then(() => applyNodeHeaders(res, prepared.headers));
  }

  /** Fetch API: the session for a `Request` (Hono, Bun, Deno, workers). */
  loadRequest(request: Request, options: { ip?: string } = {}): Promise<Session<T>> {
    return settle(() => this[LOAD_REQUEST_NOW](request, options));
  }

  /** `loadRequest` for sessionkit's Fetch adapters: the Session itself when the store answered synchronously. */
  [LOAD_REQUEST_NOW](request: Request, options: { ip?: string } = {}): Awaitable<Session<T>> {
    const cookieHeader = request.headers.get("cookie") ?? undefined;
    const token = this.#options.header ? request.headers.get(this.#options.header) : this.#cookieToken(cookieHeader);
    // The Request is itself a device source (its headers): an object is made only to add an ip.
    const device: DeviceSource = options.ip === undefined ? request : { ip: options.ip, headers: request.headers };
    return this.#loadNow(token, { secure: () => request.url.startsWith("https:"), cookieHeader, device });
  }

  /** Fetch API: commits and appends the session headers to `headers`, made unstorable by shared caches (see sessionCacheControl). */
  async commitResponse(session: Session<T>, headers: Headers): Promise<void> {
    applyFetchHeaders(headers, await this.commitHeaders(session));
  }

  /** The DBSC endpoints' view of this manager (src/core/dbsc/handler.ts); undefined when option `dbsc` is off. */
  get [DBSC_HOST](): DbscHost | undefined {
    const dbsc = this.#options.dbsc;
    if (!dbsc) return undefined;
    return (this.#dbscHost ??= dbscHost(dbsc, {
      now: this.#options.now,
      find: async (cookieHeader, secure) => {
        const store = this.#serverStore(await this.#ready(), "dbsc");
        const token = this.#cookieToken(cookieHeader);
        return token ? ((await this.#find(store, token, this.#options.now(), this.#secure(secure))) as Session<object> | null) : null;
      },
      store: async () => this.#serverStore(await this.#ready(), "dbsc"),
      call: (operation, run) => this.#call(operation, run),
      commit: (session) => this.commitHeaders(session as unknown as Session<T>),
      emit: (type, session) => this.#emit(type, session[INTERNALS], session.userId),
    }));
  }

  /** True when `token` names a live session. */
  async exists(token: string): Promise<boolean> {
    const store = this.#store ?? (await this.#resolveStore());
    const now = this.#options.now();
    if (isClientSideStore(store)) return (await this.#openCookie(store, token, now, false)) !== null;
    return (await this.#loadStored(store, token, now, false)) !== null;
  }

  /** Number of live sessions (beego's SessionAll). */
  async count(): Promise<number> {
    const store = this.#serverStore(await this.#ready(), "count");
    if (!store.count) throw new SessionUnsupportedError("this store cannot count its sessions (it has no count() method)");
    return this.#call("count", (o) => store.count!(o));
  }

  /** Removes expired sessions now; resolves to how many. Stores with native expiry report 0. */
  async gc(): Promise<number> {
    const store = this.#serverStore(await this.#ready(), "gc");
    if (!store.gc) return 0;
    return this.#call("gc", (o) => store.gc!(o));
  }

  /** Stops timers and closes the store if this manager created it (provider option). */
  async close(): Promise<void> {
    if (this.#gcTimer) clearInterval(this.#gcTimer);
    this.#gcTimer = undefined;
    if (!this.#ownsStore) return;
    const store = this.#store ?? (await this.#storePromise?.catch(() => undefined));
    await store?.close?.();
  }

  // ---- users ----

  /** The live sessions `userId` is signed in with, newest sign-in first. */
  async listSessions(userId: string): Promise<SessionInfo[]> {
    return listSessions(this.#core, this.#serverStore(await this.#ready(), "listSessions"), userId);
  }

  /** Ends one session of `userId` by its handle; true when a live one was ended. */
  async revokeSession(userId: string, handle: string): Promise<boolean> {
    return revokeSession(this.#core, await this.#ready(), userId, handle);
  }

  /**
   * Ends every session of `userId` (an administrator's "sign out everywhere", a disabled
   * account), or all but one with `except` (a Session or a handle: "sign out the others").
   * Resolves to how many were ended (0 for cookie sessions, which the server cannot count).
   */
  async revokeUser(userId: string, options: { except?: Session<T> | string } = {}): Promise<number> {
    const except = typeof options.except === "string" ? options.except : options.except?.handle;
    return revokeUser(this.#core, await this.#ready(), userId, except);
  }

  // ---- loading ----

  #loadStored(store: SessionStore, value: string, now: number, secure: SecureFlag): Awaitable<Session<T> | null> {
    let token = value;
    let stale = false;
    const { secrets } = this.#options;
    if (secrets) {
      const verified = verifySignedToken(value, secrets);
      if (!verified) return null;
      token = verified.token;
      stale = verified.stale;
    } else if (!isWellFormedToken(value)) {
      return null;
    }
    const key = this.#keyOf(token);
    const record = this.#call("get", (o) => store.get(key, o));
    if (record instanceof Promise) return record.then((found) => this.#fromRecord(found, token, key, stale, now, secure));
    return this.#fromRecord(record, token, key, stale, now, secure);
  }

  #fromRecord(record: StoredSession | null, token: string, key: string, stale: boolean, now: number, secure: SecureFlag): Session<T> | null {
    const envelope = record ? this.#live(record.data, record.expiresAt, now) : null;
    if (!record || !envelope) return null;
    const state = newState(now, secure, envelope.createdAt, envelope.data);
    if (envelope.user && !this.#restoreUser(state, envelope.user, token)) return null;
    state.token = token;
    state.storedKey = key;
    state.version = record.version;
    state.storedExpiresAt = record.expiresAt;
    state.sendCookie = stale;
    state.clientHasCookie = true;
    return this.#session(state, false);
  }

  /** False when the sealed user id does not open with this token: a forged or foreign record. */
  #restoreUser(state: SessionInternals, stored: StoredUser, token: string): boolean {
    const id = openUserId(stored.sealedId, token);
    if (id === null) return false;
    const { owner, signedInAt, userAgent, ip, sealedId, binding } = stored;
    state.user = { id, owner, signedInAt, userAgent, ip, fresh: false, sealedId, binding };
    return true;
  }

  #openCookie(store: ClientSideStore, value: string, now: number, secure: SecureFlag): Awaitable<Session<T> | null> {
    let opened;
    try {
      opened = store.open(value, now, this.tokenName);
    } catch {
      return null; // a hostile cookie is "not found", never an exception to the app
    }
    if (!opened) return null;
    const bar = opened.payload.indexOf("|");
    const envelope = bar === 43 ? this.#live(opened.payload.slice(bar + 1), opened.expiresAt, now) : null;
    if (!envelope) return null;
    const token = opened.payload.slice(0, bar);
    const state = newState(now, secure, envelope.createdAt, envelope.data);
    if (envelope.user && !this.#restoreUser(state, envelope.user, token)) return null;
    state.token = token;
    state.storedExpiresAt = opened.expiresAt;
    state.sendCookie = opened.stale;
    state.clientHasCookie = true;
    const session = this.#session(state, false);
    const revocations = this.#options.revocations;
    const user = state.user;
    if (!revocations || !user) return session;
    const handleOf = () => this.#handleOf(state);
    return isRevoked(this.#revocationContext, revocations, user.owner, handleOf, user.signedInAt).then((revoked) => (revoked ? null : session));
  }

  async #migrate(cookieHeader: string, now: number, secure: SecureFlag): Promise<Session<T> | null> {
    const migration = this.#options.migrateFrom!;
    const legacy = readCookie(cookieHeader, migration.cookieName);
    if (!legacy) return null;
    let data: Record<string, unknown> | null;
    try {
      data = await migration.take(legacy);
    } catch (error) {
      throw error instanceof SessionError ? error : new SessionStoreError("the legacy session store failed", { cause: error });
    }
    if (!data) return null;
    const session = this.#session(newState(now, secure), true);
    for (const key of Object.keys(data)) session.set(key as never, data[key] as never);
    session[INTERNALS].extraCookies = [migration.expireCookie(isSecure(session[INTERNALS]))];
    return session;
  }

  // ---- committing ----

  #prepareStored(store: SessionStore, session: Session<T>, state: SessionInternals): PreparedCommit {
    if (state.status === "destroyed") return sendOnly(this.#expireHeaders(state));
    const now = this.#options.now();
    state.usedAt = Math.max(state.usedAt, now); // the idle window counts from this commit
    const expiresAt = this.#host.expiresAt(state);
    if (state.status === "modified") {
      const data = this.#encode(state); // encode errors throw now, before any header goes out
      const headers = session.isNew || state.sendCookie ? this.#cookieHeaders(state, now) : [];
      const persisted = this.#persist(store, session, state, data, expiresAt, headers);
      return persisted ? { headers, persisted, pending: true } : sendOnly(headers);
    }
    if (session.isNew) return NOTHING;
    const touchDue = expiresAt - state.storedExpiresAt >= this.#options.touchInterval;
    if (!touchDue) return state.sendCookie ? sendOnly(this.#cookieHeaders(state, now)) : NOTHING;
    const headers = state.sendCookie ? this.#cookieHeaders(state, now) : [];
    const touched = touchRecord(this.#records, store, state, state.storedKey!, expiresAt).then(() => this.#committed(session, state, expiresAt));
    return { headers, persisted: touched, pending: true };
  }

  #prepareCookie(store: ClientSideStore, session: Session<T>, state: SessionInternals): PreparedCommit {
    if (state.status === "destroyed") return sendOnly(this.#expireHeaders(state));
    const now = this.#options.now();
    state.usedAt = Math.max(state.usedAt, now);
    const expiresAt = this.#host.expiresAt(state);
    const touchDue = !session.isNew && expiresAt - state.storedExpiresAt >= this.#options.touchInterval;
    if (state.status !== "modified" && !touchDue && !state.sendCookie) return NOTHING;
    const sealed = store.seal(`${session.id}|${this.#encode(state)}`, expiresAt, this.tokenName);
    const headers = this.#cookieHeaders(state, now, sealed);
    const size = Buffer.byteLength(headers[0]![1]);
    if (size > MAX_COOKIE_BYTES) throw new SessionTooLargeError(size, MAX_COOKIE_BYTES, "the Set-Cookie header");
    if (session.isNew) this.#emit("created", state, state.user?.id);
    if (state.user?.fresh) void signedIn(this.#core, state); // no store: only the event
    this.#committed(session, state, expiresAt);
    return sendOnly(headers);
  }

  /**
   * Writes a modified session. Returns undefined when a synchronous store (MemoryStore) applied
   * it at once, so the response need not wait a tick; otherwise the promise of the write.
   * `encoded` is the first attempt's text, already checked for size.
   */
  #persist(store: SessionStore, session: Session<T>, state: SessionInternals, encoded: string, expiresAt: number, headers: SessionHeader[]): Promise<void> | undefined {
    const key = state.storedKey ?? this.#keyOf(session.id);
    const user = state.user;
    if (user?.fresh) return this.#persistSignedIn(store, session, state, key, expiresAt, encoded, headers);
    const written = writeRecord(this.#records, store, state, key, expiresAt, encoded);
    if (written === true) {
      this.#written(session, state, key, expiresAt);
      return undefined;
    }
    return Promise.resolve(written).then((applied) => {
      if (applied) this.#written(session, state, key, expiresAt);
      else supersede(state, headers);
    });
  }

  /** The first write of a session signed in before it was ever stored: index entry first, cap after. */
  async #persistSignedIn(
    store: SessionStore,
    session: Session<T>,
    state: SessionInternals,
    key: string,
    expiresAt: number,
    encoded: string,
    headers: SessionHeader[],
  ): Promise<void> {
    await indexOwner(this.#core, store, state, key, expiresAt);
    if (!(await writeRecord(this.#records, store, state, key, expiresAt, encoded))) return supersede(state, headers);
    this.#written(session, state, key, expiresAt);
    await signedIn(this.#core, state, store, key);
    if (state.superseded && !Object.isFrozen(headers)) headers.length = 0; // evicted by a newer sign-in
  }

  #written(session: Session<T>, state: SessionInternals, key: string, expiresAt: number): void {
    state.storedKey = key;
    if (session.isNew) this.#emit("created", state, state.user?.id);
    this.#committed(session, state, expiresAt);
  }

  #committed(session: Session<T>, state: SessionInternals, expiresAt: number): void {
    state.changes = undefined;
    state.status = "unmodified";
    state.sendCookie = false;
    state.clientHasCookie = true;
    state.storedExpiresAt = expiresAt;
    session.isNew = false;
  }

  #encode(state: SessionInternals): string {
    const user = state.user ? userMeta(state.user, (state.token ??= generateToken()), this.#options.now()) : undefined;
    const text = encodeEnvelope(this.#options.codec, state.createdAt, state.data, user);
    // Cheap bound first: a UTF-8 string is at most 3 bytes per UTF-16 unit.
    if (text.length * 3 > this.#options.maxSize) {
      const size = Buffer.byteLength(text);
      if (size > this.#options.maxSize) throw new SessionTooLargeError(size, this.#options.maxSize);
    }
    return text;
  }

  /** The envelope of a record that may still load at `now`; null for anything else. */
  #live(text: string | undefined, expiresAt: number, now = this.#options.now()): Envelope | null {
    if (text === undefined || expiresAt <= now) return null;
    const envelope = decodeEnvelope(this.#options.codec, text);
    return envelope && envelope.createdAt + this.#options.absoluteTimeout > now ? envelope : null;
  }

  // ---- headers ----

  #tokenValue(state: SessionInternals): string {
    const token = (state.token ??= generateToken());
    return this.#options.secrets ? signToken(token, this.#options.secrets) : token;
  }

  /**
   * The cookie lives until the absolute deadline, as SCS's does: the idle expiry is enforced by
   * the server, so the cookie need not be re-sent whenever the idle window slides. It is sent
   * only for a new id, a re-signed token, or (cookie sessions) new sealed content.
   */
  #cookieHeaders(state: SessionInternals, now: number, sealed?: string): SessionHeader[] {
    const { cookie, header, absoluteTimeout } = this.#options;
    const value = sealed ?? this.#tokenValue(state);
    if (header) return [[header, value]];
    const secure = isSecure(state);
    if (!secure && this.#inProduction) warnInsecureCookie(cookie.name);
    const maxAge = cookie.persistent ? Math.max(0, Math.round((state.createdAt + absoluteTimeout - now) / 1000)) : undefined;
    return [["set-cookie", serializeSessionCookie(cookie, value, maxAge, secure)]];
  }

  #expireHeaders(state: SessionInternals): SessionHeader[] {
    if (!state.clientHasCookie) return [];
    state.clientHasCookie = false;
    const { header, cookie } = this.#options;
    if (header) return [[header, ""]];
    return [["set-cookie", serializeExpiredCookie(cookie, isSecure(state))]];
  }

  // ---- plumbing ----

  #handleOf(state: SessionInternals): string {
    return handleOfKey(this.#keyOf((state.token ??= generateToken())));
  }

  /** Costs nothing without a listener: a session's handle (two hashes) is made only for one. */
  #emit(type: SessionEventType, subject: string | SessionInternals, userId: string | undefined): void {
    const listener = this.#options.onEvent;
    if (!listener) return;
    const handle = typeof subject === "string" ? subject : this.#handleOf(subject);
    const event: SessionEvent = { type, handle, at: new Date(this.#options.now()) };
    if (userId !== undefined) event.userId = userId;
    emitSafely(listener, event);
  }

  #session(state: SessionInternals, isNew: boolean): Session<T> {
    return new Session<T>(this.#host, state, isNew);
  }

  #keyOf(token: string): string {
    return this.#options.hashIds ? hashToken(token) : token;
  }

  #secure(request: SecureFlag | undefined): SecureFlag {
    const { secure } = this.#options.cookie;
    return secure === "auto" ? (request ?? false) : secure;
  }

  #nodeToken(headers: IncomingHttpHeaders): string | undefined {
    const { header } = this.#options;
    if (header) {
      const value = headers[header];
      return Array.isArray(value) ? value[0] : value;
    }
    return this.#cookieToken(headers.cookie);
  }

  /** Two different cookies of the session's name load neither (see readSessionCookie). */
  #cookieToken(cookieHeader: string | undefined): string | undefined {
    const found = readSessionCookie(cookieHeader, this.#options.cookie.name);
    if (found.ambiguous) this.#ambiguous();
    return found.value;
  }

  /** Reported to onEvent when the app listens (handle "": no session was loaded), else warned once. */
  #ambiguous(): void {
    if (this.#options.onEvent) return this.#emit("ambiguous-cookie", "", undefined);
    const { name } = this.#options.cookie;
    warnOnce(
      "SESSIONKIT_AMBIGUOUS_COOKIE",
      `sessionkit: a request carried more than one "${name}" cookie with different values (one planted from a sibling subdomain, or stale); ` +
        "neither was loaded, the request got a fresh session. Name the cookie __Host-sid (the default with cookie.secure: true) so no other host can set it.",
    );
  }

  async #ready(): Promise<AnyStore> {
    return this.#store ?? this.#resolveStore();
  }

  #resolveStore(): Promise<AnyStore> {
    return this.#storePromise!.catch((error: unknown) => {
      throw error instanceof TypeError ? error : new SessionStoreError("the session provider failed to create its store", { cause: error });
    });
  }

  #serverStore(store: AnyStore, what: string): SessionStore {
    if (isClientSideStore(store)) {
      throw new SessionUnsupportedError(`${what}() is not possible when sessions live in cookies: the server keeps no list of them`);
    }
    return store;
  }

  #serverStoreOrNull(): SessionStore | null {
    const store = this.#store;
    return store && !isClientSideStore(store) ? store : null;
  }

  #scheduleGc(store: AnyStore): void {
    if (isClientSideStore(store) || !store.gc || this.#options.gcInterval === 0) return;
    this.#gcTimer = setInterval(() => {
      this.gc().catch((error: unknown) => process.emitWarning(`sessionkit: periodic gc failed: ${String(error)}`));
    }, this.#options.gcInterval);
    this.#gcTimer.unref();
  }

  #call<R>(operation: string, run: (options: StoreCallOptions) => Awaitable<R>): Awaitable<R> {
    return this.#storeCalls.run(operation, run);
  }
}

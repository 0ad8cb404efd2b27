import type { IncomingMessage, ServerResponse } from "node:http";
import { readCookie, serializeExpiredCookie, serializeSessionCookie } from "./cookies.js";
import { SessionError, SessionHeadersSentError, SessionStoreError, SessionTooLargeError, SessionUnsupportedError } from "./errors.js";
import { generateToken, hashToken, isWellFormedToken, signToken, verifySignedToken } from "./ids.js";
import type { ResolvedOptions, SessionManagerOptions } from "./options.js";
import { resolveOptions } from "./options.js";
import { getProvider } from "./providers.js";
import type { SessionData, SessionHost, SessionInternals } from "./session.js";
import { INTERNALS, Session, newState, replayChanges } from "./session.js";
import type { AnyStore, Awaitable, ClientSideStore, SessionStore, StoreCallOptions, StoredSession } from "./store.js";
import { checkStore, isClientSideStore } from "./store.js";
import { callStore } from "./store-call.js";
import type { SessionHeader } from "./node-http.js";
import { applyFetchHeaders, applyNodeHeaders, isSecureRequest } from "./node-http.js";

/** Where the request came from, for the transport-free `load`. */
export interface LoadContext {
  /** The request arrived over TLS; decides Secure when cookie.secure is "auto". Default false. */
  secure?: boolean;
  /** The raw Cookie header, needed only by `migrateFrom` to find a legacy cookie. */
  cookieHeader?: string;
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

// Browsers drop a Set-Cookie longer than 4096 bytes without a word (RFC 6265bis section 5.6).
const MAX_COOKIE_BYTES = 4096;
const MAX_WRITE_ATTEMPTS = 100;
const DONE: Promise<void> = Promise.resolve();
/** The commit of a session nobody changed: shared, so a read-only request allocates nothing here. */
const NOTHING: PreparedCommit = Object.freeze({ headers: Object.freeze([]) as unknown as SessionHeader[], persisted: DONE, pending: false });

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

  constructor(options: SessionManagerOptions) {
    this.#options = resolveOptions(options);
    if (options.store && options.provider) throw new TypeError('give either option "store" or option "provider", not both');
    if (options.store) {
      checkStore(options.store);
      this.#store = options.store;
      this.#ownsStore = false;
      this.#scheduleGc(options.store);
    } else if (options.provider !== undefined) {
      const factory = getProvider(options.provider);
      this.#ownsStore = true;
      // Called now, so a factory that validates its config synchronously throws from here.
      this.#storePromise = Promise.resolve(factory(options.providerConfig ?? "")).then((store) => {
        checkStore(store);
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
      regenerate: (state) => this.#regenerate(state),
      destroy: (state) => this.#destroy(state),
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
    const store = this.#store;
    if (!store) return this.#resolveStore().then(() => this.load(token, context));
    try {
      const now = this.#options.now();
      const secure = this.#secure(context.secure === true);
      const found = token ? this.#find(store, token, now, secure) : null;
      // Stay synchronous while the store answers synchronously (MemoryStore): no extra ticks.
      if (found instanceof Promise) return found.then((session) => session ?? this.#fresh(context, now, secure));
      return found ? Promise.resolve(found) : this.#fresh(context, now, secure);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #find(store: AnyStore, token: string, now: number, secure: boolean): Awaitable<Session<T> | null> {
    return isClientSideStore(store) ? this.#openCookie(store, token, now, secure) : this.#loadStored(store, token, now, secure);
  }

  /** A new, empty session, or the one migrated from a legacy cookie. */
  async #fresh(context: LoadContext, now: number, secure: boolean): Promise<Session<T>> {
    if (this.#options.migrateFrom && context.cookieHeader) {
      const migrated = await this.#migrate(context.cookieHeader, now, secure);
      if (migrated) return migrated;
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
    const prepared = this.prepareCommit(session);
    await prepared.persisted;
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
    const extra = state.extraCookies;
    state.extraCookies = undefined;
    const prepared = isClientSideStore(store) ? this.#prepareCookie(store, session, state) : this.#prepareStored(store, session, state);
    if (!extra) return prepared;
    const headers: SessionHeader[] = [...prepared.headers, ...extra.map((cookie): SessionHeader => ["set-cookie", cookie])];
    return { headers, persisted: prepared.persisted, pending: prepared.pending };
  }

  /**
   * node:http: the session for this request (beego's SessionStart(w, r); `res` is accepted for
   * that shape and not needed). `options.secure` defaults to TLS or Express's `req.secure`; Koa
   * and Fastify pass their proxy-aware flag (`ctx.secure`, `request.protocol`).
   */
  start(req: IncomingMessage, _res?: ServerResponse | null, options: { secure?: boolean } = {}): Promise<Session<T>> {
    const secure = options.secure ?? isSecureRequest(req);
    return this.load(this.#nodeToken(req), { secure, cookieHeader: req.headers.cookie });
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
  loadRequest(request: Request): Promise<Session<T>> {
    const cookieHeader = request.headers.get("cookie") ?? undefined;
    const token = this.#options.header ? request.headers.get(this.#options.header) : readCookie(cookieHeader, this.#options.cookie.name);
    return this.load(token, { secure: request.url.startsWith("https:"), cookieHeader });
  }

  /** Fetch API: commits and appends the session headers to `headers`, made unstorable by shared caches (see sessionCacheControl). */
  async commitResponse(session: Session<T>, headers: Headers): Promise<void> {
    applyFetchHeaders(headers, await this.commitHeaders(session));
  }

  /** True when `token` names a live session. */
  async exists(token: string): Promise<boolean> {
    const store = this.#store ?? (await this.#resolveStore());
    const now = this.#options.now();
    if (isClientSideStore(store)) return this.#openCookie(store, token, now, false) !== null;
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

  // ---- loading ----

  #loadStored(store: SessionStore, value: string, now: number, secure: boolean): Awaitable<Session<T> | null> {
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
    const key = this.#options.hashIds ? hashToken(token) : token;
    const record = this.#call("get", (o) => store.get(key, o));
    if (record instanceof Promise) return record.then((found) => this.#fromRecord(found, token, key, stale, now, secure));
    return this.#fromRecord(record, token, key, stale, now, secure);
  }

  #fromRecord(record: StoredSession | null, token: string, key: string, stale: boolean, now: number, secure: boolean): Session<T> | null {
    if (!record || record.expiresAt <= now) return null;
    const envelope = this.#decode(record.data);
    if (!envelope || envelope.createdAt + this.#options.absoluteTimeout <= now) return null;
    const state = newState(now, secure, envelope.createdAt);
    state.token = token;
    state.storedKey = key;
    state.version = record.version;
    state.data = envelope.data;
    state.storedExpiresAt = record.expiresAt;
    state.sendCookie = stale;
    state.clientHasCookie = true;
    return this.#session(state, false);
  }

  #openCookie(store: ClientSideStore, value: string, now: number, secure: boolean): Session<T> | null {
    let opened;
    try {
      opened = store.open(value, now);
    } catch {
      return null; // a hostile cookie is "not found", never an exception to the app
    }
    if (!opened) return null;
    const bar = opened.payload.indexOf("|");
    const envelope = bar === 43 ? this.#decode(opened.payload.slice(bar + 1)) : null;
    if (!envelope || envelope.createdAt + this.#options.absoluteTimeout <= now) return null;
    const state = newState(now, secure, envelope.createdAt);
    state.token = opened.payload.slice(0, bar);
    state.data = envelope.data;
    state.storedExpiresAt = opened.expiresAt;
    state.sendCookie = opened.stale;
    state.clientHasCookie = true;
    return this.#session(state, false);
  }

  async #migrate(cookieHeader: string, now: number, secure: boolean): Promise<Session<T> | null> {
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
    session[INTERNALS].extraCookies = [migration.expireCookie(secure)];
    return session;
  }

  // ---- committing ----

  #prepareStored(store: SessionStore, session: Session<T>, state: SessionInternals): PreparedCommit {
    const now = this.#options.now();
    const expiresAt = this.#host.expiresAt(state);
    if (state.status === "destroyed") return sendOnly(this.#expireHeaders(state));
    if (state.status === "modified") {
      const data = this.#encode(state);
      const headers = session.isNew || state.sendCookie ? this.#cookieHeaders(state, now) : [];
      const persisted = this.#write(store, session, state, data, expiresAt);
      return persisted ? { headers, persisted, pending: true } : sendOnly(headers);
    }
    if (session.isNew) return NOTHING;
    const touchDue = expiresAt - state.storedExpiresAt >= this.#options.touchInterval;
    if (!touchDue) return state.sendCookie ? sendOnly(this.#cookieHeaders(state, now)) : NOTHING;
    const headers = state.sendCookie ? this.#cookieHeaders(state, now) : [];
    return { headers, persisted: this.#touch(store, state, expiresAt), pending: true };
  }

  #prepareCookie(store: ClientSideStore, session: Session<T>, state: SessionInternals): PreparedCommit {
    if (state.status === "destroyed") return sendOnly(this.#expireHeaders(state));
    const now = this.#options.now();
    const expiresAt = this.#host.expiresAt(state);
    const touchDue = !session.isNew && expiresAt - state.storedExpiresAt >= this.#options.touchInterval;
    if (state.status !== "modified" && !touchDue && !state.sendCookie) return NOTHING;
    const sealed = store.seal(`${session.id}|${this.#encode(state)}`, expiresAt);
    const headers = this.#cookieHeaders(state, now, sealed);
    const size = Buffer.byteLength(headers[0]![1]);
    if (size > MAX_COOKIE_BYTES) throw new SessionTooLargeError(size, MAX_COOKIE_BYTES, "the Set-Cookie header");
    this.#committed(session, state, expiresAt);
    return sendOnly(headers);
  }

  /**
   * The compare-and-set write. Returns undefined when a synchronous store (MemoryStore) applied
   * it at once, so the response need not wait a tick; otherwise the promise of the write.
   */
  #write(store: SessionStore, session: Session<T>, state: SessionInternals, data: string, expiresAt: number): Promise<void> | undefined {
    const key = state.storedKey ?? this.#keyOf(session.id);
    const expected = state.storedKey ? state.version : 0;
    const write = { data, expiresAt, version: expected + 1, expectedVersion: expected };
    const applied = this.#call("set", (o) => store.set(key, write, o));
    if (applied === true) {
      this.#written(session, state, key, write.version, expiresAt);
      return undefined;
    }
    return this.#writeAgain(store, session, state, key, expected, expiresAt, applied);
  }

  async #writeAgain(
    store: SessionStore,
    session: Session<T>,
    state: SessionInternals,
    key: string,
    expected: number,
    expiresAt: number,
    firstAttempt: Awaitable<boolean>,
  ): Promise<void> {
    let applied = await firstAttempt;
    for (let attempt = 1; ; attempt++) {
      if (applied) return this.#written(session, state, key, expected + 1, expiresAt);
      if (attempt >= MAX_WRITE_ATTEMPTS) throw new SessionStoreError(`gave up after ${MAX_WRITE_ATTEMPTS} conflicting writes to one session`);
      // Another request wrote first: replay our changed keys on its data (no lost update).
      const fresher = await this.#call("get", (o) => store.get(key, o));
      const envelope = fresher && fresher.expiresAt > this.#options.now() ? this.#decode(fresher.data) : null;
      if (!fresher || !envelope) {
        state.status = "destroyed"; // destroyed meanwhile: a slower request must not bring it back
        return;
      }
      state.data = replayChanges(envelope.data, state);
      expected = fresher.version;
      const write = { data: this.#encode(state), expiresAt, version: expected + 1, expectedVersion: expected };
      applied = await this.#call("set", (o) => store.set(key, write, o));
    }
  }

  #written(session: Session<T>, state: SessionInternals, key: string, version: number, expiresAt: number): void {
    state.storedKey = key;
    state.version = version;
    this.#committed(session, state, expiresAt);
  }

  async #touch(store: SessionStore, state: SessionInternals, expiresAt: number): Promise<void> {
    const key = state.storedKey!;
    if (store.touch) {
      await this.#call("touch", (o) => store.touch!(key, expiresAt, o));
    } else {
      const write = { data: this.#encode(state), expiresAt, version: state.version + 1, expectedVersion: state.version };
      // A conflict means another request just wrote, which moved the expiry anyway.
      if (await this.#call("set", (o) => store.set(key, write, o))) state.version++;
    }
    state.storedExpiresAt = expiresAt;
    state.sendCookie = false;
  }

  #committed(session: Session<T>, state: SessionInternals, expiresAt: number): void {
    state.changes = undefined;
    state.cleared = false;
    state.status = "unmodified";
    state.sendCookie = false;
    state.clientHasCookie = true;
    state.storedExpiresAt = expiresAt;
    session.isNew = false;
  }

  #encode(state: SessionInternals): string {
    const text = `${state.createdAt}|${this.#options.codec.encode(Object.fromEntries(state.data))}`;
    // Cheap bound first: a UTF-8 string is at most 3 bytes per UTF-16 unit.
    if (text.length * 3 > this.#options.maxSize) {
      const size = Buffer.byteLength(text);
      if (size > this.#options.maxSize) throw new SessionTooLargeError(size, this.#options.maxSize);
    }
    return text;
  }

  #decode(text: string): { createdAt: number; data: Map<string, unknown> } | null {
    const bar = text.indexOf("|");
    const createdAt = Number(text.slice(0, bar));
    if (bar < 1 || !Number.isFinite(createdAt)) return null;
    try {
      return { createdAt, data: toMap(this.#options.codec.decode(text.slice(bar + 1))) };
    } catch {
      return null; // corrupt or hostile data: treated as not found
    }
  }

  // ---- regenerate and destroy ----

  async #regenerate(state: SessionInternals): Promise<void> {
    if (state.status === "destroyed") throw new SessionError("ERR_SESSION_DESTROYED", "cannot regenerate a destroyed session");
    const oldKey = state.storedKey;
    if (oldKey) {
      const store = this.#serverStoreOrNull();
      if (store) await this.#call("destroy", (o) => store.destroy(oldKey, o));
    }
    state.token = generateToken();
    state.storedKey = undefined;
    state.version = 0;
    state.sendCookie = true;
    state.status = "modified";
    // The new record is written whole, so no replay is needed.
    state.changes = new Map(state.data);
    state.cleared = true;
  }

  async #destroy(state: SessionInternals): Promise<void> {
    const key = state.storedKey;
    if (key) {
      const store = this.#serverStoreOrNull();
      if (store) await this.#call("destroy", (o) => store.destroy(key, o));
    }
    state.data.clear();
    state.changes = undefined;
    state.status = "destroyed";
    state.storedKey = undefined;
    state.version = 0;
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
    const maxAge = cookie.persistent ? Math.max(0, Math.round((state.createdAt + absoluteTimeout - now) / 1000)) : undefined;
    return [["set-cookie", serializeSessionCookie(cookie, value, maxAge, state.secure)]];
  }

  #expireHeaders(state: SessionInternals): SessionHeader[] {
    if (!state.clientHasCookie) return [];
    state.clientHasCookie = false;
    const { header, cookie } = this.#options;
    if (header) return [[header, ""]];
    return [["set-cookie", serializeExpiredCookie(cookie, state.secure)]];
  }

  // ---- plumbing ----

  #session(state: SessionInternals, isNew: boolean): Session<T> {
    return new Session<T>(this.#host, state, isNew);
  }

  #keyOf(token: string): string {
    return this.#options.hashIds ? hashToken(token) : token;
  }

  #secure(requestIsTls: boolean): boolean {
    const { secure } = this.#options.cookie;
    return secure === "auto" ? requestIsTls : secure;
  }

  #nodeToken(req: IncomingMessage): string | undefined {
    const { header, cookie } = this.#options;
    if (header) {
      const value = req.headers[header];
      return Array.isArray(value) ? value[0] : value;
    }
    return readCookie(req.headers.cookie, cookie.name);
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
    return callStore(operation, this.#options.storeTimeout, run);
  }
}

/** Own enumerable keys into a Map, without Object.entries' array per key. */
function toMap(data: Record<string, unknown>): Map<string, unknown> {
  const map = new Map<string, unknown>();
  for (const key in data) if (Object.hasOwn(data, key)) map.set(key, data[key]);
  return map;
}

/**
 * The public API of sessionkit's core. A SessionManager holds one store and picks, once, the path
 * that keeps sessions in it (server-path.ts for a SessionStore, cookie-path.ts for a cookie
 * store); identity.ts changes who a session is (rotation, sign-in, logout, revocation).
 * Over 400 lines because it is the whole public API, each method documented where it is
 * declared; a method's body is a few lines that hand the work to those files.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ServerStore } from "./abilities.js";
import { ManagerContext } from "./context.js";
import { readCookieCandidates, verifiedCandidate } from "./cookie-candidates.js";
import { SessionError, SessionHeadersSentError, SessionStoreError, SessionUnsupportedError } from "./errors.js";
import { listSessions, revokeSession, revokeUser } from "./identity.js";
import type { SessionManagerOptions, SessionMigration } from "./options.js";
import { resolveOptions } from "./options.js";
import { CookiePath } from "./cookie-path.js";
import type { SessionHeader } from "./node-http.js";
import { applyFetchHeaders, applyNodeHeaders, isSecureRequest } from "./node-http.js";
import type { PreparedCommit, SessionPath } from "./paths.js";
import { DONE } from "./paths.js";
import { resolveProvider } from "./providers.js";
import type { TokenCandidates } from "./request-token.js";
import { ambiguous, cookieToken, fetchToken, nodeToken } from "./request-token.js";
import { ServerPath } from "./server-path.js";
import type { DeviceSource, SecureFlag, SessionData } from "./session.js";
import { INTERNALS, Session, isSecure, newState } from "./session.js";
import type { AnyStore, Awaitable } from "./store.js";
import { checkStore, isClientSideStore } from "./store.js";
import type { SessionInfo } from "./users.js";
import { admitBound, checkDbscStore, registrationOffer } from "./dbsc/binding.js";
import type { DbscHost } from "./dbsc/handler.js";
import { DBSC_HOST } from "./dbsc/handler.js";
import { dbscHost } from "./dbsc/host.js";
import { emitWarning, warnOnce } from "./warnings.js";
import { publishEnded, tracers } from "./tracing.js";

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
export type { PreparedCommit } from "./paths.js";

/** `load` from a whole Cookie header, for adapters handed the header rather than a request (Next.js, React Router). */
export const LOAD_COOKIE: unique symbol = Symbol.for("sessionkit.loadCookie");

/** `run`'s result as a promise, a synchronous throw included. */
function settle<V>(run: () => Awaitable<V>): Promise<V> {
  try {
    const value = run();
    return value instanceof Promise ? value : Promise.resolve(value);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Loads, tracks and commits sessions. Transport-free at its core (`load`/`commit`), with
 * node:http (`start`/`release`) and Fetch (`loadRequest`/`commitResponse`) pairs on top.
 */
export class SessionManager<T extends object = SessionData> {
  readonly #ctx: ManagerContext;
  #store: AnyStore | undefined;
  #path: SessionPath<T> | undefined;
  #storePromise: Promise<AnyStore> | undefined;
  readonly #ownsStore: boolean;
  #gcTimer: ReturnType<typeof setInterval> | undefined;
  #dbscHost: DbscHost | undefined;
  /** The store has gc() and gcInterval is not 0: the timer starts at the first load (Workers forbid timers at module scope). */
  #gcDue = false;

  constructor(options: SessionManagerOptions) {
    this.#ctx = new ManagerContext(resolveOptions(options));
    if (options.store && options.provider) throw new TypeError('give either option "store" or option "provider", not both');
    if (options.store) {
      this.#ownsStore = false;
      this.#use(options.store);
    } else if (options.provider !== undefined) {
      warnOnce("SESSIONKIT_PROVIDER_OPTION", 'sessionkit: option "provider" is deprecated and goes in the next minor release; pass store: await createStore(provider, providerConfig) from "sessionkit/providers"');
      this.#ownsStore = true;
      // Called now, so a factory that validates its config synchronously throws from here.
      this.#storePromise = Promise.resolve(resolveProvider(options.provider, options.providerConfig ?? "")).then((store) => this.#use(store));
      this.#storePromise.catch(() => {}); // surfaced by the first load/commit
    } else {
      throw new TypeError('option "store" is required (a SessionStore such as new MemoryStore()), or give "provider"');
    }
  }

  /** The one place that asks what kind of store this is. */
  #use(store: AnyStore): AnyStore {
    checkStore(store);
    checkDbscStore(this.#ctx.options.dbsc, store);
    this.#store = store;
    this.#ctx.storeKind = (store.constructor as { name?: string } | undefined)?.name || "unknown";
    if (isClientSideStore(store)) {
      if (this.#ctx.options.renewInterval > 0) {
        throw new TypeError('option "renewInterval" needs a server-side store: a cookie session has no id the server could retire, and every cookie it sealed opens until it expires');
      }
      this.#path = new CookiePath<T>(this.#ctx, store);
    } else {
      const server = new ServerStore(store);
      this.#ctx.server = server;
      this.#path = new ServerPath<T>(this.#ctx, server);
      this.#scheduleGc(server);
    }
    return store;
  }

  /** The resolved cookie name (or header name in header mode) the token travels in. */
  get tokenName(): string {
    const { header, cookie } = this.#ctx.options;
    return header ?? cookie.name;
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
   * that can go on at once saves a tick.
   */
  #loadNow(token: TokenCandidates, context: LoadContext): Awaitable<Session<T>> {
    const tracer = tracers.load;
    if (!tracer.active) return this.#loadUntraced(token, context);
    const outcome = (session: Session<T>) => (!token ? "none" : session.isNew ? "not-found" : "found");
    return tracer.trace(this.#ctx.traceOf("load"), () => this.#loadUntraced(token, context), outcome);
  }

  #loadUntraced(token: TokenCandidates, context: LoadContext): Awaitable<Session<T>> {
    const path = this.#path;
    if (!path) return this.#resolveStore().then(() => this.#loadUntraced(token, context));
    if (this.#gcDue) this.#startGc();
    const now = this.#ctx.now();
    const secure = this.#secure(context.secure);
    // Several different session cookies (rare): only one that verifies loads (cookie-candidates.ts).
    let found = !token
      ? null
      : typeof token === "string"
        ? path.find(token, now, secure)
        : verifiedCandidate(token, (value) => path.find(value, now, secure), () => ambiguous(this.#ctx));
    const { dbsc } = this.#ctx.options;
    if (dbsc) found = admitBound(found, dbsc, context.cookieHeader, now, (s) => this.#ctx.emit("binding-failed", s[INTERNALS], s.userId));
    if (found instanceof Promise) return found.then((session) => this.#withDevice(session ?? this.#fresh(context, now, secure), context));
    return this.#withDevice(found ?? this.#fresh(context, now, secure), context);
  }

  #withDevice(session: Awaitable<Session<T>>, context: LoadContext): Awaitable<Session<T>> {
    if (!context.device) return session;
    if (session instanceof Promise) return session.then((s) => ((s[INTERNALS].device = context.device), s));
    session[INTERNALS].device = context.device;
    return session;
  }

  /** A new, empty session, or the one migrated from a legacy cookie. */
  #fresh(context: LoadContext, now: number, secure: SecureFlag): Awaitable<Session<T>> {
    if (this.#ctx.options.migrateFrom && context.cookieHeader) {
      return this.#migrate(context.cookieHeader, now, secure).then((migrated) => migrated ?? this.#ctx.session<T>(newState(now, secure), true));
    }
    return this.#ctx.session<T>(newState(now, secure), true);
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
    return prepared.headers;
  }

  /**
   * For adapters that must emit headers before the store write ends (a streamed response):
   * encodes now (throwing SessionEncodeError / SessionTooLargeError synchronously) and starts the write.
   */
  prepareCommit(session: Session<T>): PreparedCommit {
    const tracer = tracers.commit;
    if (!tracer.active) return this.#prepareCommit(session);
    let prepared: PreparedCommit | undefined;
    const state = session[INTERNALS];
    const write = () => ((prepared = this.#prepareCommit(session)), prepared.pending ? prepared.persisted : undefined);
    const persisted = tracer.trace(this.#ctx.traceOf("commit"), write, () => (state.superseded ? "superseded" : "ok"));
    // The traced write stands for the store's: it settles after the span ends, with the same result.
    return persisted instanceof Promise ? { headers: prepared!.headers, persisted, pending: prepared!.pending } : prepared!;
  }

  #prepareCommit(session: Session<T>): PreparedCommit {
    const path = this.#path;
    if (!path) throw new SessionError("ERR_SESSION_NOT_LOADED", "commit() called before the store was ready");
    const state = session[INTERNALS];
    // From here the response's headers are being decided: a later change would be lost, so it throws.
    state.committing = true;
    const extra = state.extraCookies;
    state.extraCookies = undefined;
    // Signed in during this request (usedAt is still the load time here): the response that carries the new cookie offers binding.
    const { dbsc } = this.#ctx.options;
    const offerBinding = dbsc !== undefined && state.user !== undefined && !state.user.binding && state.user.signedInAt >= state.usedAt;
    const prepared = path.prepare(session, state);
    // Pushed onto the commit's own list, so a sign-in that another one supersedes drops the offer with its cookie.
    if (offerBinding && prepared.headers.length > 0 && !Object.isFrozen(prepared.headers)) {
      prepared.headers.push(["secure-session-registration", registrationOffer(dbsc, state.token!, this.#ctx.now())]);
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
    return settle(() => this.#startNow(req, options));
  }

  #startNow(req: IncomingMessage, options: { secure?: SecureFlag; device?: DeviceSource } = {}): Awaitable<Session<T>> {
    // Only "auto" needs the request's TLS flag, and only for a cookie: Express's getter is not free.
    const secure = options.secure ?? (this.#ctx.options.cookie.secure === "auto" ? () => isSecureRequest(req) : false);
    const headers = req.headers;
    // Express's req has `ip` (its trust-proxy setting applied); plain node:http falls back to the socket.
    return this.#loadNow(nodeToken(this.#ctx, headers), { secure, cookieHeader: headers.cookie, device: options.device ?? (req as DeviceSource) });
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
    return settle(() => this.#loadRequestNow(request, options));
  }

  #loadRequestNow(request: Request, options: { ip?: string } = {}): Awaitable<Session<T>> {
    const cookieHeader = request.headers.get("cookie") ?? undefined;
    const token = fetchToken(this.#ctx, request.headers, cookieHeader);
    // The Request is itself a device source (its headers): an object is made only to add an ip.
    const device: DeviceSource = options.ip === undefined ? request : { ip: options.ip, headers: request.headers };
    return this.#loadNow(token, { secure: () => request.url.startsWith("https:"), cookieHeader, device });
  }

  /**
   * `load` for sessionkit's adapters that hold the Cookie header, not a request (Next.js, React
   * Router): the session cookie is read by the rule of every other adapter (cookieToken).
   */
  [LOAD_COOKIE](cookieHeader: string | undefined, context: Omit<LoadContext, "cookieHeader"> = {}): Promise<Session<T>> {
    return settle(() => this.#loadNow(cookieToken(this.#ctx, cookieHeader), { ...context, cookieHeader }));
  }

  /** Fetch API: commits and appends the session headers to `headers`, made unstorable by shared caches (see sessionCacheControl). */
  async commitResponse(session: Session<T>, headers: Headers): Promise<void> {
    applyFetchHeaders(headers, await this.commitHeaders(session));
  }

  /** The DBSC endpoints' view of this manager (src/core/dbsc/handler.ts); undefined when option `dbsc` is off. */
  get [DBSC_HOST](): DbscHost | undefined {
    const dbsc = this.#ctx.options.dbsc;
    if (!dbsc) return undefined;
    const ctx = this.#ctx;
    return (this.#dbscHost ??= dbscHost(dbsc, {
      now: () => ctx.now(),
      find: async (cookieHeader, secure) => {
        await this.#server("dbsc"); // bindings need a server store (checked at construction too)
        const token = nodeToken(ctx, { cookie: cookieHeader });
        const find = (value: string) => this.#path!.find(value, ctx.now(), this.#secure(secure));
        // Several different session cookies: only one that verifies loads, as in #loadNow.
        const found = !token ? null : typeof token === "string" ? find(token) : verifiedCandidate(token, find, () => ambiguous(ctx));
        return (await found) as Session<object> | null;
      },
      store: async () => (await this.#server("dbsc")).store,
      call: (operation, run) => ctx.call(operation, run),
      commit: (session) => this.commitHeaders(session as unknown as Session<T>),
      emit: (type, session) => ctx.emit(type, session[INTERNALS], session.userId),
    }));
  }

  /** True when `token` names a live session. */
  async exists(token: string): Promise<boolean> {
    const path = this.#path ?? (await this.#resolveStore(), this.#path!);
    return (await path.find(token, this.#ctx.now(), false)) !== null;
  }

  /** Number of live sessions (beego's SessionAll). */
  async count(): Promise<number> {
    const server = await this.#server("count");
    const count = server.count;
    if (!count) throw new SessionUnsupportedError("this store cannot count its sessions (it has no count() method)");
    return this.#ctx.call("count", (o) => count(o));
  }

  /**
   * Removes expired sessions now; resolves to how many. Stores with native expiry report 0.
   * When it removed any, emits one "expired" event with their `count` (stores report a number,
   * not which sessions).
   */
  async gc(): Promise<number> {
    const tracer = tracers.gc;
    if (!tracer.active) return this.#gc();
    const message = this.#ctx.traceOf("gc");
    return tracer.trace(message, () => this.#gc(), (removed) => ((message.count = removed), "ok"));
  }

  async #gc(): Promise<number> {
    const gc = (await this.#server("gc")).gc;
    const removed = gc ? await this.#ctx.call("gc", (o) => gc(o)) : 0;
    if (removed > 0) this.#ctx.emit("expired", "", undefined, removed);
    publishEnded(this.#ctx.storeKind, "expired", removed);
    return removed;
  }

  /** Stops timers and closes the store if this manager created it (provider option). */
  async close(): Promise<void> {
    if (this.#gcTimer) clearInterval(this.#gcTimer);
    this.#gcTimer = undefined;
    this.#gcDue = false;
    if (!this.#ownsStore) return;
    const store = this.#store ?? (await this.#storePromise?.catch(() => undefined));
    await store?.close?.();
  }

  // ---- users ----

  /** The live sessions `userId` is signed in with, newest sign-in first. */
  async listSessions(userId: string): Promise<SessionInfo[]> {
    return listSessions(this.#ctx, await this.#server("listSessions"), userId);
  }

  /** Ends one session of `userId` by its handle; true when a live one was ended. */
  async revokeSession(userId: string, handle: string): Promise<boolean> {
    const revoke = async () => (await this.#ready(), revokeSession(this.#ctx, this.#ctx.server, userId, handle));
    const tracer = tracers.revoke;
    if (!tracer.active) return revoke();
    const message = this.#ctx.traceOf("revokeSession");
    return tracer.trace(message, revoke, (ended) => ((message.count = ended ? 1 : 0), "ok"));
  }

  /**
   * Ends every session of `userId` (an administrator's "sign out everywhere", a disabled
   * account), or all but one with `except` (a Session or a handle: "sign out the others").
   * Resolves to how many were ended (0 for cookie sessions, which the server cannot count).
   */
  async revokeUser(userId: string, options: { except?: Session<T> | string } = {}): Promise<number> {
    const except = typeof options.except === "string" ? options.except : options.except?.handle;
    const revoke = async () => (await this.#ready(), revokeUser(this.#ctx, this.#ctx.server, userId, except));
    const tracer = tracers.revoke;
    if (!tracer.active) return revoke();
    const message = this.#ctx.traceOf("revokeUser");
    return tracer.trace(message, revoke, (ended) => ((message.count = ended), "ok"));
  }

  // ---- plumbing ----

  async #migrate(cookieHeader: string, now: number, secure: SecureFlag): Promise<Session<T> | null> {
    const migration = this.#ctx.options.migrateFrom!;
    const legacy = await this.#legacyCookie(migration, cookieHeader);
    if (!legacy) return null;
    let data: Record<string, unknown> | null;
    try {
      data = await migration.take(legacy);
    } catch (error) {
      throw error instanceof SessionError ? error : new SessionStoreError("the legacy session store failed", { cause: error });
    }
    if (!data) return null;
    const session = this.#ctx.session<T>(newState(now, secure), true);
    for (const key of Object.keys(data)) session.set(key as never, data[key] as never);
    session[INTERNALS].extraCookies = [migration.expireCookie(isSecure(session[INTERNALS]))];
    return session;
  }

  /** The legacy cookie to take: the same duplicate rule as the session cookie's (cookie-candidates.ts). */
  #legacyCookie(migration: SessionMigration, cookieHeader: string): Awaitable<string | null | undefined> {
    const values = readCookieCandidates(cookieHeader, migration.cookieName, true);
    if (values === undefined || typeof values === "string") return values;
    const verify = migration.verify ? migration.verify.bind(migration) : async () => false;
    return verifiedCandidate(values, async (value) => ((await verify(value)) ? value : null), () => ambiguous(this.#ctx, migration.cookieName));
  }

  #secure(request: SecureFlag | undefined): SecureFlag {
    const { secure } = this.#ctx.options.cookie;
    return secure === "auto" ? (request ?? false) : secure;
  }

  async #ready(): Promise<AnyStore> {
    return this.#store ?? this.#resolveStore();
  }

  #resolveStore(): Promise<AnyStore> {
    return this.#storePromise!.catch((error: unknown) => {
      throw error instanceof TypeError ? error : new SessionStoreError("the session provider failed to create its store", { cause: error });
    });
  }

  /** The server store, for the calls cookie sessions cannot offer. */
  async #server(what: string): Promise<ServerStore> {
    await this.#ready();
    const server = this.#ctx.server;
    if (!server) throw new SessionUnsupportedError(`${what}() is not possible when sessions live in cookies: the server keeps no list of them`);
    return server;
  }

  #scheduleGc(server: ServerStore): void {
    this.#gcDue = server.gc !== undefined && this.#ctx.options.gcInterval !== 0;
  }

  #startGc(): void {
    this.#gcDue = false;
    this.#gcTimer = setInterval(() => {
      this.gc().catch((error: unknown) => emitWarning(`sessionkit: periodic gc failed: ${String(error)}`));
    }, this.#ctx.options.gcInterval);
    // Deno before 2.8 and Workers return a number, which has no unref.
    (this.#gcTimer as { unref?: () => void }).unref?.();
  }
}

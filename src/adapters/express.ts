/**
 * Express 4/5 (and Connect) middleware: `app.use(sessionMiddleware(sessions))` puts the
 * Session on `req.session` and commits it automatically before the response completes.
 */
import { IncomingMessage, ServerResponse } from "node:http";
import type { PreparedCommit, SessionManager } from "../core/manager.js";
import { applyNodeHeaders } from "../core/manager.js";
import type { Session, SessionData } from "../core/session.js";
import type { Duration } from "../core/duration.js";
import { toMilliseconds } from "../core/duration.js";
import { dbscHostOf, handleDbscNode, isDbscNodeRequest } from "../core/dbsc/http.js";
import { isSecureRequest } from "../core/node-http.js";
import type { CompatUserId } from "./express-compat.js";
import { createView, syncRequestView } from "./express-compat.js";
import type { SecureOf } from "./shared.js";
import { SECURE_OF, checkManager, toError } from "./shared.js";

export type { CompatUserId, ExpressSessionMethods, ExpressSessionView } from "./express-compat.js";

export interface SessionMiddlewareOptions {
  /** "express-session": `req.session` behaves like express-session's, for Passport and older code. */
  compat?: "express-session";
  /**
   * Compat mode: the user a session's data names, read at each `req.session.save()`; the session
   * is signed in as that user (listSessions, revokeUser, the CLI) or, once it names none, ended.
   * Default: Passport's `req.session.passport.user` when it is a string or a number.
   */
  compatUserId?: CompatUserId;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The sessionkit session, typed by `SessionData` (augment it with your shape). */
      session: Session<SessionData>;
    }
  }
}

type Next = (error?: unknown) => void;
type Method = (...args: unknown[]) => ServerResponse;

export function sessionMiddleware<T extends object = SessionData>(manager: SessionManager<T>, options: SessionMiddlewareOptions = {}) {
  checkManager(manager, "sessionMiddleware");
  const compat = options.compat === "express-session";
  if (options.compat !== undefined && !compat) throw new TypeError('option "compat" accepts only "express-session"');
  const untyped = manager as unknown as SessionManager<object>;
  const secureOf = (options as { [SECURE_OF]?: SecureOf })[SECURE_OF];
  const attach = (req: IncomingMessage, res: ServerResponse, session: Session<object>, next: Next): void => {
    const commit = new PendingCommit(untyped, session, next, compat ? req : undefined);
    commit.view = compat ? createView(req, untyped, session, options.compatUserId) : session;
    if (trackedOnPrototype(req, res)) (req as Tracked)[COMMIT] = commit;
    else attachAsProperties(commit, req, res);
    next();
  };
  const dbsc = dbscHostOf(manager);
  return function sessionkit(req: IncomingMessage, res: ServerResponse, next: Next): void {
    // The DBSC endpoints (option dbsc) answer here, before any session is loaded for the request.
    if (isDbscNodeRequest(dbsc, req)) {
      handleDbscNode(dbsc, req, res, isSecureRequest(req)).catch(next);
      return;
    }
    manager.start(req, null, secureOf && { secure: () => secureOf(req) }).then((session) => attach(req, res, session as unknown as Session<object>, next), next);
  };
}

/**
 * Node has no async hook before a response goes out, so the commit rides on writeHead and end.
 * Headers going out before `end` (a streamed response, an explicit writeHead) take the
 * Set-Cookie, known without the store, and `end` then waits for the write; a response ended in
 * one go waits for the write before anything is sent, and a failure goes to `next(err)`.
 */
class PendingCommit {
  view: unknown;
  /** Set when headers went out first (a streamed response): the write still running. */
  #streamed: PreparedCommit | undefined;
  #streamError: unknown;
  #ended = false;

  constructor(
    readonly manager: SessionManager<object>,
    readonly session: Session<object>,
    readonly next: Next,
    /** Compat mode: the request whose view records in-place changes before the commit. */
    readonly compatRequest: IncomingMessage | undefined,
  ) {}

  writeHead(res: ServerResponse, writeHead: Method, args: unknown[]): ServerResponse {
    if (!this.#ended && !this.#streamed && !res.headersSent) {
      try {
        this.#prepare();
        const streamed = this.manager.prepareCommit(this.session);
        streamed.persisted.catch(() => {}); // handled in end(), which may come much later
        this.#streamed = streamed;
        applyNodeHeaders(res, streamed.headers);
      } catch (error) {
        this.#streamError = error;
      }
    }
    return writeHead.apply(res, args);
  }

  /** After streamed headers a failed write aborts the connection, so the client never sees a success. */
  end(res: ServerResponse, end: Method, args: unknown[]): ServerResponse {
    if (this.#ended) return end.apply(res, args);
    this.#ended = true;
    if (this.#streamed || res.headersSent) return this.#finishStreamed(res, end, args);
    let prepared: PreparedCommit;
    try {
      this.#prepare();
      prepared = this.manager.prepareCommit(this.session);
    } catch (error) {
      this.next(error);
      return res;
    }
    if (!prepared.pending) {
      applyNodeHeaders(res, prepared.headers);
      end.apply(res, args);
      return res;
    }
    prepared.persisted.then(
      () => {
        applyNodeHeaders(res, prepared.headers);
        end.apply(res, args);
      },
      (error: unknown) => this.next(error),
    );
    return res;
  }

  #prepare(): void {
    if (this.compatRequest) syncRequestView(this.compatRequest);
  }

  #finishStreamed(res: ServerResponse, end: Method, args: unknown[]): ServerResponse {
    if (this.#streamError) return res.destroy(toError(this.#streamError));
    const streamed = this.#streamed;
    if (!streamed?.pending) return end.apply(res, args);
    streamed.persisted.then(
      () => end.apply(res, args),
      (error: unknown) => res.destroy(toError(error)),
    );
    return res;
  }
}

/**
 * Outside Express (Connect, plain node:http), or when something already wrapped this response:
 * the session and the two wrapped methods become properties of this req and res.
 */
function attachAsProperties(commit: PendingCommit, req: IncomingMessage, res: ServerResponse): void {
  (req as IncomingMessage & { session: unknown }).session = commit.view;
  const writeHead = res.writeHead as Method;
  const end = res.end as Method;
  res.writeHead = function (this: ServerResponse) {
    // eslint-disable-next-line prefer-rest-params
    return commit.writeHead(this, writeHead, arguments as unknown as unknown[]);
  } as ServerResponse["writeHead"];
  res.end = function (this: ServerResponse) {
    // eslint-disable-next-line prefer-rest-params
    return commit.end(this, end, arguments as unknown as unknown[]);
  } as ServerResponse["end"];
}

// ---- Express: the session and the commit hooks on the prototypes Express gives req and res ----
//
// Express swaps the prototypes of every request's req and res. Each own property added to them,
// above all a function made per request (wrapped writeHead/end), changes their hidden class (on
// Node 20 a new one per request) and slows the property reads of Express and Node that follow,
// on Node 24 and 26 as well. So on Express, `session` is an
// accessor and writeHead/end are methods of Express's base request and response objects (shared
// by every app of that Express copy), patched once. The request's commit is one symbol-keyed
// property of req: a WeakMap entry per request instead is ephemeron work for the garbage
// collector. A request sessionkit did not load has no such property and is untouched. Kept
// because it pays on Node 24 and 26 too (bench/README.md, "Speed-ups and what they pay").

const COMMIT = Symbol("sessionkit.commit");
type Tracked = IncomingMessage & { [COMMIT]?: PendingCommit };

/** Per prototype Express gave a req (one per app): whether its base objects carry the hooks. */
const PROTOTYPES = new WeakMap<object, boolean>();
const PATCHED = new WeakSet<object>();

function trackedOnPrototype(req: IncomingMessage, res: ServerResponse): boolean {
  const proto = Object.getPrototypeOf(req) as object;
  let patched = PROTOTYPES.get(proto);
  if (patched === undefined) {
    patched = patchExpress(req, res);
    PROTOTYPES.set(proto, patched);
  }
  // Someone else already put these on this request (another session middleware, compression
  // mounted first): stack on top of them with own properties, as they did, to keep the order.
  // Own-property checks only: a read of an absent property walks req's whole prototype chain,
  // uncached on Node 20, where every Express req has a hidden class of its own.
  return patched && !Object.hasOwn(req, COMMIT) && !Object.hasOwn(req, "session") && !Object.hasOwn(res, "writeHead") && !Object.hasOwn(res, "end");
}

function patchExpress(req: IncomingMessage, res: ServerResponse): boolean {
  const express = req as IncomingMessage & { app?: unknown };
  if (typeof express.app !== "function" || (res as ServerResponse & { req?: unknown }).req !== req) return false;
  const requestBase = baseBelow(req, IncomingMessage.prototype);
  const responseBase = baseBelow(res, ServerResponse.prototype);
  if (!requestBase || !responseBase) return false;
  if (PATCHED.has(requestBase)) return true;
  // Another copy of sessionkit (or anything else) defined `session` there: do not take it over.
  if (Object.hasOwn(requestBase, "session")) return false;
  Object.defineProperty(requestBase, "session", {
    configurable: true,
    get(this: IncomingMessage) {
      return (this as Tracked)[COMMIT]?.view;
    },
    // `req.session = …` (express-session, tests, Passport's callers) becomes the request's own value.
    set(this: IncomingMessage, value: unknown) {
      Object.defineProperty(this, "session", { value, writable: true, enumerable: true, configurable: true });
    },
  });
  const writeHead = responseBase.writeHead as Method;
  const end = responseBase.end as Method;
  responseBase.writeHead = function (this: ServerResponse & { req: Tracked }): ServerResponse {
    const commit = this.req[COMMIT];
    // eslint-disable-next-line prefer-rest-params
    return commit ? commit.writeHead(this, writeHead, arguments as unknown as unknown[]) : writeHead.apply(this, arguments as unknown as unknown[]);
  };
  responseBase.end = function (this: ServerResponse & { req: Tracked }): ServerResponse {
    const commit = this.req[COMMIT];
    // eslint-disable-next-line prefer-rest-params
    return commit ? commit.end(this, end, arguments as unknown as unknown[]) : end.apply(this, arguments as unknown as unknown[]);
  };
  PATCHED.add(requestBase);
  return true;
}

/** The object of `value`'s prototype chain that sits directly on `root` (Express's base req/res), if not the first. */
function baseBelow(value: object, root: object): { writeHead: unknown; end: unknown } | undefined {
  let proto = Object.getPrototypeOf(value) as object | null;
  if (proto === root) return undefined;
  while (proto) {
    const parent = Object.getPrototypeOf(proto) as object | null;
    if (parent === root) return proto as { writeHead: unknown; end: unknown };
    proto = parent;
  }
  return undefined;
}


/** What `requireFresh` does with a request whose sign-in is too old (or missing, or by another method). */
export interface RequireFreshOptions {
  /** Only these `signIn`/`reauthenticated` methods count (e.g. ["password", "webauthn"]). */
  methods?: readonly string[];
  /** Default: a 401 "reauthentication required". Redirect to your password-confirmation page instead. */
  onStale?: (req: IncomingMessage, res: ServerResponse, next: Next) => void;
}

/**
 * Guards a sensitive route (change email or password, MFA, "sign out everywhere": OWASP ASVS
 * V7.5.1, V7.5.3): it runs only when the user authenticated within `maxAge` (see Session.isFresh).
 * Mount it after sessionMiddleware.
 */
export function requireFresh(maxAge: Duration, options: RequireFreshOptions = {}) {
  toMilliseconds(maxAge, "maxAge"); // a bad duration fails here, not at the first request
  const onStale = options.onStale ?? ((_req: IncomingMessage, res: ServerResponse) => {
    res.statusCode = 401;
    res.setHeader("content-type", "text/plain; charset=utf-8");
    res.end("reauthentication required");
  });
  return function requireFresh(req: IncomingMessage, res: ServerResponse, next: Next): void {
    const session = (req as IncomingMessage & { session?: Session<object> }).session;
    if (session?.isFresh(maxAge, options)) return next();
    onStale(req, res, next);
  };
}

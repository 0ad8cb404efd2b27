/**
 * Express 4/5 (and Connect) middleware: `app.use(sessionMiddleware(sessions))` puts the
 * Session on `req.session` and commits it automatically before the response completes.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { PreparedCommit, SessionManager } from "../core/manager.js";
import { START_NOW, applyNodeHeaders } from "../core/manager.js";
import type { Session, SessionData } from "../core/session.js";
import type { Awaitable } from "../core/store.js";
import { createView, syncRequestView } from "./express-compat.js";
import { checkManager, toError } from "./shared.js";

export type { ExpressSessionMethods, ExpressSessionView } from "./express-compat.js";

export interface SessionMiddlewareOptions {
  /** "express-session": `req.session` behaves like express-session's, for Passport and older code. */
  compat?: "express-session";
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
  const start = (req: IncomingMessage, res: ServerResponse, session: Session<object>, next: Next): void => {
    const commit = new PendingCommit(untyped, session, next, compat ? req : undefined);
    commit.view = compat ? createView(req, untyped, session) : session;
    attach(commit, req, res);
    next();
  };
  return function sessionkit(req: IncomingMessage, res: ServerResponse, next: Next): void {
    let loaded: Awaitable<Session<T>>;
    try {
      loaded = manager[START_NOW](req);
    } catch (error) {
      next(error);
      return;
    }
    // A store that answered synchronously (MemoryStore) goes on at once: a promise hop before
    // next() costs Express more CPU than the whole load.
    if (loaded instanceof Promise) loaded.then((session) => start(req, res, session as unknown as Session<object>, next), next);
    else start(req, res, loaded as unknown as Session<object>, next);
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
 * The session and the two wrapped methods become own properties of this req and res, as on any
 * Connect-style stack: nothing shared (Express's base request and response objects, other apps,
 * other copies of sessionkit) is changed, and a wrapper mounted earlier (compression, another
 * session middleware) stays underneath, so each one's commit runs in mounting order.
 */
function attach(commit: PendingCommit, req: IncomingMessage, res: ServerResponse): void {
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

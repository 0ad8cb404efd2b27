/**
 * Express 4/5 (and Connect) middleware: `app.use(sessionMiddleware(sessions))` puts the
 * Session on `req.session` and commits it automatically before the response completes.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { PreparedCommit, SessionManager } from "../core/manager.js";
import { applyNodeHeaders } from "../core/manager.js";
import type { Session, SessionData } from "../core/session.js";
import { createView, syncRequestView } from "./express-compat.js";

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

/** What the response's writeHead/end need to commit; kept on the response under a symbol. */
class CommitState {
  /** Set when headers went out first (a streamed response): the write still running. */
  streamed: PreparedCommit | undefined = undefined;
  streamError: unknown = undefined;
  ended = false;

  constructor(
    readonly manager: SessionManager<object>,
    readonly session: Session<object>,
    readonly next: Next,
    readonly writeHead: (...args: unknown[]) => ServerResponse,
    readonly end: (...args: unknown[]) => ServerResponse,
    readonly beforeCommit: (() => void) | undefined,
  ) {}

  prepare(): PreparedCommit {
    this.beforeCommit?.();
    return this.manager.prepareCommit(this.session);
  }
}

const STATE = Symbol("sessionkit.commit");
type Response = ServerResponse & { [STATE]: CommitState };

export function sessionMiddleware<T extends object = SessionData>(manager: SessionManager<T>, options: SessionMiddlewareOptions = {}) {
  const compat = options.compat === "express-session";
  if (options.compat !== undefined && !compat) throw new TypeError('option "compat" accepts only "express-session"');
  return function sessionkit(req: IncomingMessage, res: ServerResponse, next: Next): void {
    manager.start(req).then((session) => {
      const view = compat && createView(req, manager as unknown as SessionManager<object>, session as unknown as Session<object>);
      (req as IncomingMessage & { session: unknown }).session = view || session;
      const original = res as Response;
      original[STATE] = new CommitState(
        manager as unknown as SessionManager<object>,
        session as unknown as Session<object>,
        next,
        res.writeHead as CommitState["writeHead"],
        res.end as CommitState["end"],
        compat ? () => syncRequestView(req) : undefined,
      );
      // Node has no async hook before a response goes out, so the commit rides on these two.
      res.writeHead = writeHead as ServerResponse["writeHead"];
      res.end = end as ServerResponse["end"];
      next();
    }, next);
  };
}

/**
 * Headers are going out before `end` (a streamed response, or an explicit writeHead): the
 * Set-Cookie is known without the store, so it goes with them; `end` then waits for the write.
 */
function writeHead(this: Response): ServerResponse {
  const state = this[STATE];
  if (!state.ended && !state.streamed && !this.headersSent) {
    try {
      state.streamed = state.prepare();
      state.streamed.persisted.catch(() => {}); // handled in end(), which may come much later
      applyNodeHeaders(this, state.streamed.headers);
    } catch (error) {
      state.streamError = error;
    }
  }
  // eslint-disable-next-line prefer-rest-params
  return state.writeHead.apply(this, arguments as unknown as unknown[]);
}

/**
 * When the handler ends the response in one go, the store write finishes first and a failure
 * goes to `next(err)`. After streamed headers, a failed write aborts the connection so the
 * client never sees a success. No body byte is held back (see ../../shared STYLE: express-session's tangle).
 */
function end(this: Response): ServerResponse {
  const state = this[STATE];
  // eslint-disable-next-line prefer-rest-params
  const args = arguments as unknown as unknown[];
  if (state.ended) return state.end.apply(this, args);
  state.ended = true;
  if (state.streamed || this.headersSent) return finishStreamed(this, state, args);
  let prepared: PreparedCommit;
  try {
    prepared = state.prepare();
  } catch (error) {
    state.next(error);
    return this;
  }
  if (!prepared.pending) {
    applyNodeHeaders(this, prepared.headers);
    return state.end.apply(this, args);
  }
  prepared.persisted.then(
    () => {
      applyNodeHeaders(this, prepared.headers);
      state.end.apply(this, args);
    },
    (error: unknown) => state.next(error),
  );
  return this;
}

function finishStreamed(res: Response, state: CommitState, args: unknown[]): ServerResponse {
  if (state.streamError) return res.destroy(toError(state.streamError));
  const streamed = state.streamed;
  if (!streamed?.pending) return state.end.apply(res, args);
  streamed.persisted.then(
    () => state.end.apply(res, args),
    (error: unknown) => res.destroy(toError(error)),
  );
  return res;
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

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
type Method = (...args: unknown[]) => ServerResponse;

export function sessionMiddleware<T extends object = SessionData>(manager: SessionManager<T>, options: SessionMiddlewareOptions = {}) {
  const compat = options.compat === "express-session";
  if (options.compat !== undefined && !compat) throw new TypeError('option "compat" accepts only "express-session"');
  const untyped = manager as unknown as SessionManager<object>;
  return function sessionkit(req: IncomingMessage, res: ServerResponse, next: Next): void {
    manager.start(req).then((session) => {
      const plain = session as unknown as Session<object>;
      const view = compat && createView(req, untyped, plain);
      (req as IncomingMessage & { session: unknown }).session = view || session;
      commitBeforeSending(res, untyped, plain, next, compat ? () => syncRequestView(req) : undefined);
      next();
    }, next);
  };
}

/**
 * Node has no async hook before a response goes out, so the commit rides on writeHead and end.
 * The commit state lives in this closure, not on `res`: Express gives every request's req and res
 * a hidden class of their own (it swaps their prototypes), so each property added to them costs
 * V8 a new map (about 3 µs here) and each read of one a megamorphic lookup (about 1 µs). Only the
 * two methods that must be wrapped are added.
 */
function commitBeforeSending(res: ServerResponse, manager: SessionManager<object>, session: Session<object>, next: Next, beforeCommit?: () => void): void {
  const writeHead = res.writeHead as Method;
  const end = res.end as Method;
  /** Set when headers went out first (a streamed response): the write still running. */
  let streamed: PreparedCommit | undefined;
  let streamError: unknown;
  let ended = false;

  /**
   * Headers are going out before `end` (a streamed response, or an explicit writeHead): the
   * Set-Cookie is known without the store, so it goes with them; `end` then waits for the write.
   */
  res.writeHead = function (this: ServerResponse) {
    if (!ended && !streamed && !this.headersSent) {
      try {
        beforeCommit?.();
        streamed = manager.prepareCommit(session);
        streamed.persisted.catch(() => {}); // handled in end(), which may come much later
        applyNodeHeaders(this, streamed.headers);
      } catch (error) {
        streamError = error;
      }
    }
    // eslint-disable-next-line prefer-rest-params
    return writeHead.apply(this, arguments as unknown as unknown[]);
  } as ServerResponse["writeHead"];

  /**
   * When the handler ends the response in one go, the store write finishes first and a failure
   * goes to `next(err)`. After streamed headers, a failed write aborts the connection so the
   * client never sees a success. No body byte is held back (see ../../shared STYLE: express-session's tangle).
   */
  res.end = function (this: ServerResponse) {
    // eslint-disable-next-line prefer-rest-params
    const args = arguments as unknown as unknown[];
    if (ended) return end.apply(this, args);
    ended = true;
    if (streamed || this.headersSent) return finishStreamed(this, streamed, streamError, end, args);
    let prepared: PreparedCommit;
    try {
      beforeCommit?.();
      prepared = manager.prepareCommit(session);
    } catch (error) {
      next(error);
      return this;
    }
    applyNodeHeadersOnceWritten(this, prepared, end, args, next);
    return this;
  } as ServerResponse["end"];
}

function applyNodeHeadersOnceWritten(res: ServerResponse, prepared: PreparedCommit, end: Method, args: unknown[], next: Next): void {
  if (!prepared.pending) {
    applyNodeHeaders(res, prepared.headers);
    end.apply(res, args);
    return;
  }
  prepared.persisted.then(
    () => {
      applyNodeHeaders(res, prepared.headers);
      end.apply(res, args);
    },
    (error: unknown) => next(error),
  );
}

function finishStreamed(res: ServerResponse, streamed: PreparedCommit | undefined, streamError: unknown, end: Method, args: unknown[]): ServerResponse {
  if (streamError) return res.destroy(toError(streamError));
  if (!streamed?.pending) return end.apply(res, args);
  streamed.persisted.then(
    () => end.apply(res, args),
    (error: unknown) => res.destroy(toError(error)),
  );
  return res;
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

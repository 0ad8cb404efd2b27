/**
 * Express 4/5 (and Connect) middleware: `app.use(sessionMiddleware(sessions))` puts the
 * Session on `req.session` and commits it automatically before the response completes.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { PreparedCommit, SessionManager } from "../core/manager.js";
import { applyNodeHeaders } from "../core/manager.js";
import type { Session, SessionData } from "../core/session.js";

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
type End = ServerResponse["end"];
type WriteHead = ServerResponse["writeHead"];

export function sessionMiddleware<T extends object = SessionData>(manager: SessionManager<T>) {
  return function sessionkit(req: IncomingMessage, res: ServerResponse, next: Next): void {
    manager.start(req).then((session) => {
      (req as IncomingMessage & { session: Session<T> }).session = session;
      commitBeforeResponse(manager, session, res, next);
      next();
    }, next);
  };
}

/**
 * Node has no async hook before a response goes out, so the commit rides on `writeHead` and
 * `end`. When the handler ends the response in one go, the store write finishes first and a
 * failure goes to `next(err)`. When it streams, the Set-Cookie (known without the store)
 * goes out with the headers, and `end` waits for the write; a failed write aborts the
 * connection so the client never sees a success. No body byte is held back.
 */
function commitBeforeResponse<T extends object>(manager: SessionManager<T>, session: Session<T>, res: ServerResponse, next: Next): void {
  const originalEnd = res.end;
  const originalWriteHead = res.writeHead;
  let streamed: PreparedCommit | undefined;
  let streamError: unknown;
  const restore = () => {
    res.end = originalEnd;
    res.writeHead = originalWriteHead;
  };

  res.writeHead = function writeHead(this: ServerResponse, ...args: unknown[]) {
    if (!streamed && !this.headersSent) {
      try {
        streamed = manager.prepareCommit(session);
        streamed.persisted.catch(() => {}); // handled in end(), which may come much later
        applyNodeHeaders(this, streamed.headers);
      } catch (error) {
        streamError = error;
      }
    }
    return (originalWriteHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as WriteHead;

  res.end = function end(this: ServerResponse, ...args: unknown[]) {
    const endNow = () => (originalEnd as (...a: unknown[]) => ServerResponse).apply(this, args);
    if (this.headersSent || streamed) {
      restore();
      if (streamError) return this.destroy(toError(streamError));
      if (!streamed?.pending) return endNow();
      streamed.persisted.then(endNow, (error: unknown) => this.destroy(toError(error)));
      return this;
    }
    let prepared: PreparedCommit;
    try {
      prepared = manager.prepareCommit(session);
    } catch (error) {
      restore();
      next(error);
      return this;
    }
    restore();
    if (!prepared.pending) {
      applyNodeHeaders(this, prepared.headers);
      return endNow();
    }
    prepared.persisted.then(
      () => {
        applyNodeHeaders(this, prepared.headers);
        endNow();
      },
      (error: unknown) => next(error),
    );
    return this;
  } as End;
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Hono 4 middleware on the Fetch API only (Request/Response/Headers), so it runs on
 * @hono/node-server and on any Fetch runtime: `app.use(sessionMiddleware(sessions))`,
 * then `c.get("session")`. The store write ends before the Response is returned.
 */
import type { Context, MiddlewareHandler, Next } from "hono";
import type { SessionManager } from "../core/manager.js";
import { LOAD_REQUEST_NOW } from "../core/manager.js";
import { applyFetchHeaders } from "../core/node-http.js";
import type { Session, SessionData } from "../core/session.js";
import { checkManager, withMutableHeaders } from "./shared.js";

/** For `new Hono<{ Variables: SessionVariables }>()` when you prefer not to augment globally. */
export type SessionVariables<T extends object = SessionData> = { session: Session<T> };

declare module "hono" {
  interface ContextVariableMap {
    /** The sessionkit session, typed by `SessionData` (augment it with your shape). */
    session: Session<SessionData>;
  }
}

export function sessionMiddleware<T extends object = SessionData>(manager: SessionManager<T>): MiddlewareHandler {
  checkManager(manager, "sessionMiddleware");
  const run = async (c: Context, next: Next, session: Session<T>): Promise<void> => {
    c.set("session", session as unknown as Session<SessionData>);
    await next();
    // A failure throws here, and Hono's compose hands it to app.onError (500 by default).
    const prepared = manager.prepareCommit(session);
    if (prepared.pending) await prepared.persisted;
    // Most responses carry no session header: leave c.res untouched then, since reading its
    // headers makes @hono/node-server build a full Headers object it would otherwise skip.
    if (prepared.headers.length === 0) return;
    const response = withMutableHeaders(c.res);
    if (response !== c.res) c.res = response; // Hono's setter copies headers: only for a new Response
    applyFetchHeaders(c.res.headers, prepared.headers);
  };
  return function sessionkit(c, next) {
    // A synchronous store (MemoryStore) answers at once: no promise and no tick for the load.
    const loaded = manager[LOAD_REQUEST_NOW](c.req.raw);
    return loaded instanceof Promise ? loaded.then((session) => run(c, next, session)) : run(c, next, loaded);
  };
}

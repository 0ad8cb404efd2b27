/**
 * Hono 4 middleware on the Fetch API only (Request/Response/Headers), so it runs on
 * @hono/node-server and on any Fetch runtime: `app.use(sessionMiddleware(sessions))`,
 * then `c.get("session")`. The store write ends before the Response is returned.
 */
import type { Context, MiddlewareHandler, Next } from "hono";
import type { SessionManager } from "../core/manager.js";
import { applyFetchHeaders } from "../core/node-http.js";
import type { Session, SessionData } from "../core/session.js";
import { dbscHostOf, handleDbscFetch } from "../core/dbsc/http.js";
import { isDbscPath } from "../core/dbsc/handler.js";
import type { Duration } from "../core/duration.js";
import { toMilliseconds } from "../core/duration.js";
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
  const dbsc = dbscHostOf(manager);
  return function sessionkit(c, next) {
    // The DBSC endpoints (option dbsc) answer here, before any session is loaded for the request.
    if (dbsc && isDbscPath(dbsc.dbsc, c.req.path)) {
      return handleDbscFetch(dbsc, c.req.raw).then((response) => {
        if (response) c.res = response;
      });
    }
    return manager.loadRequest(c.req.raw).then((session) => run(c, next, session));
  };
}


/** What `requireFresh` does with a request whose sign-in is too old (or missing, or by another method). */
export interface RequireFreshOptions {
  /** Only these `signIn`/`reauthenticated` methods count (e.g. ["password", "webauthn"]). */
  methods?: readonly string[];
  /** Default: a 401 "reauthentication required". Redirect to your password-confirmation page instead. */
  onStale?: (c: Context) => Response | Promise<Response>;
}

/**
 * Guards a sensitive route (change email or password, MFA, "sign out everywhere": OWASP ASVS
 * V7.5.1, V7.5.3): it runs only when the user authenticated within `maxAge` (see Session.isFresh).
 */
export function requireFresh(maxAge: Duration, options: RequireFreshOptions = {}): MiddlewareHandler {
  toMilliseconds(maxAge, "maxAge"); // a bad duration fails here, not at the first request
  const onStale = options.onStale ?? ((c: Context) => c.text("reauthentication required", 401));
  return async function requireFresh(c, next) {
    if (!c.get("session").isFresh(maxAge, options)) return onStale(c);
    await next();
  };
}

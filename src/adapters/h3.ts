/**
 * h3 2 (Nitro's and Nuxt's server) middleware: `app.use(sessionMiddleware(sessions))`, then
 * `useSession(event)` in a handler. The store write ends before the Response is returned; a
 * failed write is thrown, so h3's error path answers 500.
 */
import type * as h3 from "h3";
import type { H3Event, Middleware } from "h3";
import { SessionError } from "../core/errors.js";
import type { SessionManager } from "../core/manager.js";
import type { Session, SessionData } from "../core/session.js";
import { importPeer } from "../stores/driver.js";
import { checkManager, withMutableHeaders } from "./shared.js";

// h3 is loaded when a middleware is made, not when this module is imported, so that
// `import "sessionkit/h3"` works without h3 and a missing h3 is an install instruction.
let toResponse: typeof h3.toResponse | undefined;

declare module "h3" {
  interface H3EventContext {
    /** The sessionkit session; set by sessionMiddleware. Prefer `useSession(event)`. */
    session?: Session<SessionData>;
  }
}

export function sessionMiddleware<T extends object = SessionData>(manager: SessionManager<T>): Middleware {
  checkManager(manager, "sessionMiddleware");
  const loading = toResponse ? undefined : importPeer<typeof h3>("h3", "sessionkit/h3").then((module) => void (toResponse = module.toResponse));
  loading?.catch(() => {}); // reported by the first request instead
  return async function sessionkit(event, next) {
    if (!toResponse) await loading; // only until h3 has loaded: later requests take no extra tick
    const session = await manager.loadRequest(event.req);
    event.context.session = session as unknown as Session<SessionData>;
    const result = await next();
    // An error value or h3's own markers (not found, handled by a node handler) keep h3's path;
    // a thrown error skips the commit, so the store stays in step with the cookie the client holds.
    if (result instanceof Error || typeof result === "symbol") return result;
    // h3 turns the handler's value into a Response only after the middleware; it is done here so
    // the session headers meet the app's own (its Cache-Control, its status) on the real response.
    const response = withMutableHeaders(await toResponse!(result, event));
    await manager.commitResponse(session, response.headers);
    return response;
  };
}

/** The session of this request; throws when sessionMiddleware is not installed before the handler. */
export function useSession<T extends object = SessionData>(event: H3Event): Session<T> {
  const session = event.context.session;
  if (!session) throw new SessionError("ERR_SESSION_NOT_LOADED", "no session on this event: add app.use(sessionMiddleware(sessions)) before the routes");
  return session as unknown as Session<T>;
}

/**
 * Koa 3 middleware: `app.use(sessionMiddleware(sessions))` puts the Session on `ctx.session`,
 * loaded before `await next()` and committed after it. Koa writes the response only once the
 * middleware chain has resolved, so the store write has ended before the client sees anything.
 */
import type { Context, Middleware, Next } from "koa";
import type { Duration } from "../core/duration.js";
import { toMilliseconds } from "../core/duration.js";
import type { SessionManager } from "../core/manager.js";
import { applyNodeHeaders } from "../core/manager.js";
import type { Session, SessionData } from "../core/session.js";
import { dbscHostOf, isDbscNodeRequest, nodeDbscRequest } from "../core/dbsc/http.js";
import { handleDbsc } from "../core/dbsc/handler.js";
import { checkManager } from "./shared.js";

declare module "koa" {
  interface DefaultContext {
    /** The sessionkit session, typed by `SessionData` (augment it with your shape). */
    session: Session<SessionData>;
  }
}

export function sessionMiddleware<T extends object = SessionData>(manager: SessionManager<T>): Middleware {
  checkManager(manager, "sessionMiddleware");
  const run = async (ctx: Context, next: Next, session: Session<T>): Promise<void> => {
    ctx.session = session as unknown as Session<SessionData>;
    // When a later middleware throws, Koa's error response drops every header set so far, so the
    // session is not committed: the store stays in step with the cookie the client holds.
    await next();
    // prepareCommit, not commitHeaders: a synchronous store (MemoryStore) then costs no promise
    // and no extra tick. Koa's ctx.set/ctx.append write straight to ctx.res, so the node:http rule applies as is.
    const prepared = manager.prepareCommit(session);
    if (prepared.pending) await prepared.persisted;
    applyNodeHeaders(ctx.res, prepared.headers);
  };
  const dbsc = dbscHostOf(manager);
  return function sessionkit(ctx, next) {
    // The DBSC endpoints (option dbsc) answer here, before any session is loaded for the request.
    if (isDbscNodeRequest(dbsc, ctx.req)) {
      return handleDbsc(dbsc, nodeDbscRequest(ctx.req, ctx.secure)).then((reply) => {
        if (!reply) return;
        ctx.status = reply.status;
        for (const [name, value] of reply.headers) ctx.append(name, value);
        ctx.body = reply.body;
      });
    }
    // ctx.secure honours app.proxy (X-Forwarded-Proto); the raw request knows only TLS.
    return manager.start(ctx.req, null, { secure: () => ctx.secure, device: ctx }).then((session) => run(ctx, next, session));
  };
}

/** What `requireFresh` does with a request whose sign-in is too old (or missing, or by another method). */
export interface RequireFreshOptions {
  /** Only these `signIn`/`reauthenticated` methods count (e.g. ["password", "webauthn"]). */
  methods?: readonly string[];
  /** Default: a 401 "reauthentication required". Redirect to your password-confirmation page instead. */
  onStale?: (ctx: Context) => unknown;
}

/**
 * Guards a sensitive route (change email or password, MFA, "sign out everywhere": OWASP ASVS
 * V7.5.1, V7.5.3): the next middleware runs only when the user authenticated within `maxAge`
 * (see Session.isFresh). Mount it after sessionMiddleware.
 */
export function requireFresh(maxAge: Duration, options: RequireFreshOptions = {}): Middleware {
  toMilliseconds(maxAge, "maxAge"); // a bad duration fails here, not at the first request
  const onStale = options.onStale ?? ((ctx: Context) => ((ctx.status = 401), (ctx.body = "reauthentication required")));
  return async function requireFresh(ctx: Context, next: Next) {
    if ((ctx.session as Session<object> | undefined)?.isFresh(maxAge, options)) return next();
    await onStale(ctx);
  };
}

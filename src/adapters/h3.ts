/**
 * h3 middleware for h3 2 and h3 1.15 (Nitro 2, Nuxt 4): `app.use(sessionMiddleware(sessions))`,
 * or `export default sessionMiddleware(sessions)` in a Nitro/Nuxt `server/middleware/` file, then
 * `useSession(event)` in a handler. The first event tells which h3 runs (an h3 2 event's `req` is
 * a Fetch Request; an h3 1 event has only node:http's `event.node.req`/`res`):
 * - h3 2: the store write ends before the Response is returned; a failed write is thrown, so h3's
 *   error path answers 500.
 * - h3 1: a middleware has no `next`, so the session rides on the node:http pair as in
 *   sessionkit/express: loaded from `event.node.req`, committed when the response's head goes out.
 *   A failed write there comes after h3's error path: the response becomes a bare 500, without the cookie.
 *   "https" (for cookie.secure "auto") is h3 1's rule: X-Forwarded-Proto or TLS.
 */
import type * as h3 from "h3";
import type { H3Event, Middleware } from "h3";
import type { IncomingMessage, ServerResponse } from "node:http";
import { SessionError } from "../core/errors.js";
import type { SessionManager } from "../core/manager.js";
import type { Session, SessionData } from "../core/session.js";
import { importPeer } from "../stores/driver.js";
import type { SessionMiddlewareOptions } from "./express.js";
import { SECURE_OF, checkManager, withMutableHeaders } from "./shared.js";

// h3 is loaded when a middleware is made, not when this module is imported, so that
// `import "sessionkit/h3"` works without h3 and a missing h3 is an install instruction.
let toResponse: typeof h3.toResponse | undefined;

declare module "h3" {
  interface H3EventContext {
    /** The sessionkit session; set by sessionMiddleware. Prefer `useSession(event)`. */
    session?: Session<SessionData>;
  }
}

/** The shape of an h3 1 event this adapter reads. */
interface H3v1Event {
  node: { req: IncomingMessage; res: ServerResponse };
  context: { session?: Session<SessionData> };
}

type NodeMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

export function sessionMiddleware<T extends object = SessionData>(manager: SessionManager<T>): Middleware {
  checkManager(manager, "sessionMiddleware");
  const loading = toResponse ? undefined : importPeer<typeof h3>("h3", "sessionkit/h3").then((module) => void (toResponse = module.toResponse));
  loading?.catch(() => {}); // reported by the first request instead
  let h3v1: boolean | undefined;
  let onNode: Promise<NodeMiddleware> | undefined;
  // A plain function is an event handler to h3 1 (its toEventHandler takes it as is).
  return async function sessionkit(event, next) {
    h3v1 ??= isH3v1Event(event);
    if (h3v1) return void (await startOnNode(event as unknown as H3v1Event, (onNode ??= nodeMiddleware(manager))));
    if (!toResponse) await loading; // only until h3 has loaded: later requests take no extra tick
    if (!toResponse) throw new TypeError("sessionkit/h3 found an h3 2 event but loaded an h3 without toResponse: install h3 2");
    const session = await manager.loadRequest(event.req);
    event.context.session = session as unknown as Session<SessionData>;
    const result = await next();
    // An error value or h3's own markers (not found, handled by a node handler) keep h3's path;
    // a thrown error skips the commit, so the store stays in step with the cookie the client holds.
    if (result instanceof Error || typeof result === "symbol") return result;
    // h3 turns the handler's value into a Response only after the middleware; it is done here so
    // the session headers meet the app's own (its Cache-Control, its status) on the real response.
    const response = withMutableHeaders(await toResponse(result, event));
    await manager.commitResponse(session, response.headers);
    return response;
  };
}

/** The session of this request; throws when sessionMiddleware is not installed before the handler. */
export function useSession<T extends object = SessionData>(event: H3Event): Session<T> {
  const session = event.context.session;
  if (!session) throw new SessionError("ERR_SESSION_NO_MIDDLEWARE", "no session on this event: add app.use(sessionMiddleware(sessions)) before the routes");
  return session as unknown as Session<T>;
}

/** h3 1's event has node:http's pair, and its `req` (deprecated) is that IncomingMessage, not a Request. */
function isH3v1Event(event: object): boolean {
  const { req, node } = event as { req?: { headers?: { get?: unknown } }; node?: { req?: unknown; res?: unknown } };
  return node?.req !== undefined && node.res !== undefined && typeof req?.headers?.get !== "function";
}

// sessionkit/express commits a plain node:http pair (the writeHead/end hooks, a streamed
// response, a write that must end before the body). Imported only for h3 1: it needs node:http,
// which an h3 2 app on a worker runtime lacks.
async function nodeMiddleware<T extends object>(manager: SessionManager<T>): Promise<NodeMiddleware> {
  const express = await import("./express.js");
  return express.sessionMiddleware(manager, { [SECURE_OF]: isHttpsByH3v1 } as SessionMiddlewareOptions);
}

/**
 * h3 1's own rule (its getRequestProtocol, which Nitro 2 apps rely on behind a proxy): https when
 * X-Forwarded-Proto says so or the socket is TLS. A spoofed header can only add Secure.
 */
function isHttpsByH3v1(req: IncomingMessage): boolean {
  return req.headers["x-forwarded-proto"] === "https" || (req.socket as { encrypted?: boolean }).encrypted === true;
}

async function startOnNode(event: H3v1Event, middleware: Promise<NodeMiddleware>): Promise<void> {
  const { req, res } = event.node;
  const connect = await middleware;
  await new Promise<void>((resolve, reject) => {
    let loaded = false;
    connect(req, res, (error) => {
      if (!loaded) {
        loaded = true;
        if (error === undefined) resolve();
        else reject(error as Error);
      } else if (error !== undefined) {
        failedAfterHandler(res, error);
      }
    });
  });
  event.context.session = (req as IncomingMessage & { session: Session<SessionData> }).session;
  // With a store write pending, end() holds the body back, so the response is neither ended nor
  // sent when a handler's sendRedirect()/send() returns; h3 1 would then go on to its 404. Its own
  // helpers mark such an event with `_handled` (sendStream without a socket does), and so does this.
  const end = res.end;
  res.end = function (this: ServerResponse) {
    (event as H3v1Event & { _handled?: boolean })._handled = true;
    // eslint-disable-next-line prefer-rest-params
    return end.apply(this, arguments as unknown as Parameters<ServerResponse["end"]>);
  } as ServerResponse["end"];
}

/** The store write failed as h3 1 sent the response: it is not sent (no body, no cookie), a 500 is. */
function failedAfterHandler(res: ServerResponse, error: unknown): void {
  console.error("sessionkit/h3: the session store write failed; answered 500", error);
  if (res.headersSent) return; // a streamed response: sessionkit/express has aborted it
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.statusCode = 500;
  res.end();
}

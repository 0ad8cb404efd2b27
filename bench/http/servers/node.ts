/**
 * Contestants on bare node:http: no framework between the socket and the session library,
 * so the difference to the bare server is the session library alone.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { SessionManager } from "sessionkit";
import type { Route, SessionView } from "../routes.js";
import { applyRoute, isRoute, propertyView, send, sendError, stats } from "../routes.js";

type Handler = (req: IncomingMessage, res: ServerResponse, route: Route) => Promise<void> | void;

function routed(handler: Handler): Server {
  return createServer((req, res) => {
    const route = req.url;
    if (!isRoute(route)) return send(res, 404, "not found");
    try {
      const done = handler(req, res, route);
      if (done) done.catch((error: unknown) => sendError(res, error));
    } catch (error) {
      sendError(res, error);
    }
  });
}

/** The ceiling: the same routes with no session at all. */
export function bareNode(): Server {
  let logins = 0;
  return routed((req, res, route) => {
    if (route === "/login") {
      res.setHeader("set-cookie", `bare=${++logins}; Path=/; HttpOnly`);
      return send(res, 200, "0");
    }
    if (!req.headers.cookie) return send(res, 401, "no session");
    if (route === "/read") return send(res, 200, "0");
    stats.writes++;
    send(res, 200, String(stats.writes));
  });
}

/** sessionkit's node:http pair: `start` before the handler, `release` before the body. */
export function sessionkitNode(manager: SessionManager): Server {
  return routed(async (req, res, route) => {
    const session = await manager.start(req);
    const reply = applyRoute(route, session as unknown as SessionView);
    await manager.release(session, res);
    send(res, reply.status, reply.body);
  });
}

export interface IronOptions {
  password: string;
  cookieName: string;
  ttl: number;
  cookieOptions: Record<string, unknown>;
}
export type GetIronSession = (req: IncomingMessage, res: ServerResponse, options: IronOptions) => Promise<Record<string, unknown> & { save(): Promise<void> }>;

/** iron-session's documented node:http use: getIronSession, then save() after a change. */
export function ironNode(getIronSession: GetIronSession, options: IronOptions): Server {
  return routed(async (req, res, route) => {
    const session = await getIronSession(req, res, options);
    const reply = applyRoute(route, propertyView(session));
    if (reply.changed) await session.save();
    send(res, reply.status, reply.body);
  });
}

type ConnectMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/** cookie-session is Connect middleware; node:http can call it directly. */
export function cookieSessionNode(middleware: ConnectMiddleware): Server {
  return routed((req, res, route) => {
    middleware(req, res, (error) => {
      if (error) return sendError(res, error);
      const session = (req as IncomingMessage & { session: Record<string, unknown> }).session;
      const reply = applyRoute(route, propertyView(session));
      send(res, reply.status, reply.body);
    });
  });
}

/** Contestants on Express 5: one app shape, the session middleware (if any) mounted first. */
import type { Server } from "node:http";
import { createServer } from "node:http";
import express from "express";
import type { Request, RequestHandler } from "express";
import type { SessionView } from "../routes.js";
import { applyRoute, bareView, ROUTES } from "../routes.js";

export function expressApp(middleware: RequestHandler | undefined, view: (req: Request) => SessionView): Server {
  const app = express();
  if (middleware) app.use(middleware);
  for (const route of ROUTES) {
    app.get(route, (req, res) => {
      const reply = applyRoute(route, view(req));
      res.status(reply.status).send(reply.body);
    });
  }
  return createServer(app);
}

/** The ceiling: /read and /write without a session, answering 401 when no cookie is sent. */
export function bareExpress(): Server {
  let logins = 0;
  const bare = bareView();
  const app = express();
  app.get("/login", (_req, res) => {
    res.setHeader("set-cookie", `bare=${++logins}; Path=/; HttpOnly`);
    res.send("0");
  });
  for (const route of ["/read", "/write"] as const) {
    app.get(route, (req, res) => {
      if (!req.headers.cookie) return void res.status(401).send("no session");
      const reply = applyRoute(route, bare);
      res.status(reply.status).send(reply.body);
    });
  }
  return createServer(app);
}

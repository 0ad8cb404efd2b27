/** Contestants on Hono 4 over @hono/node-server: the session middleware (if any) first, then the same three routes. */
import type { Server } from "node:http";
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import type { Context, MiddlewareHandler } from "hono";
import type { SessionView } from "../routes.js";
import { applyRoute, bareView, ROUTES } from "../routes.js";
import { floorId, memoryCounters } from "./floor.js";

export function honoApp(middleware: MiddlewareHandler | undefined, view: (c: Context) => SessionView): Server {
  const app = new Hono();
  if (middleware) app.use(middleware);
  for (const route of ROUTES) {
    app.get(route, (c) => {
      const reply = applyRoute(route, view(c));
      return c.text(reply.body, reply.status as 200);
    });
  }
  return createAdaptorServer({ fetch: app.fetch }) as Server;
}

/** The ceiling: /read and /write without a session, answering 401 when no cookie is sent. */
export function bareHono(): Server {
  let logins = 0;
  const bare = bareView();
  const app = new Hono();
  app.get("/login", (c) => {
    c.header("set-cookie", `bare=${++logins}; Path=/; HttpOnly`);
    return c.text("0");
  });
  for (const route of ["/read", "/write"] as const) {
    app.get(route, (c) => {
      if (!c.req.header("cookie")) return c.text("no session", 401);
      const reply = applyRoute(route, bare);
      return c.text(reply.body, reply.status as 200);
    });
  }
  return createAdaptorServer({ fetch: app.fetch }) as Server;
}

/** The memory floor on Hono: one middleware (any session library is one) and a Map get or set per request. */
export function floorHono(): Server {
  const counters = memoryCounters();
  const app = new Hono();
  app.use((c, next) => (c.req.path === "/login" || floorId(c.req.header("cookie")) ? next() : Promise.resolve(c.text("no session", 401))));
  app.get("/login", (c) => {
    c.header("set-cookie", counters.login());
    return c.text("0");
  });
  for (const route of ["/read", "/write"] as const) {
    app.get(route, (c) => {
      const id = floorId(c.req.header("cookie"))!;
      const count = route === "/read" ? counters.read(id) : counters.write(id);
      return count === undefined ? c.text("no session", 401) : c.text(String(count));
    });
  }
  return createAdaptorServer({ fetch: app.fetch }) as Server;
}

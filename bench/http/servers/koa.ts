/** Contestants on Koa 3: the session middleware (if any) first, then the same three routes. */
import type { Server } from "node:http";
import { createServer } from "node:http";
import Koa from "koa";
import type { Context, Middleware } from "koa";
import type { SessionView } from "../routes.js";
import { applyRoute, bareView, isRoute } from "../routes.js";
import { floorId, memoryCounters } from "./floor.js";

export function koaApp(middleware: Middleware | undefined, view: (ctx: Context) => SessionView): Server {
  const app = new Koa();
  if (middleware) app.use(middleware);
  app.use((ctx) => {
    if (!isRoute(ctx.path)) return;
    const reply = applyRoute(ctx.path, view(ctx));
    ctx.status = reply.status;
    ctx.body = reply.body;
  });
  return createServer(app.callback());
}

/** The ceiling: /read and /write without a session, answering 401 when no cookie is sent. */
export function bareKoa(): Server {
  let logins = 0;
  const bare = bareView();
  const app = new Koa();
  app.use((ctx) => {
    const route = ctx.path;
    if (route === "/login") {
      ctx.set("set-cookie", `bare=${++logins}; Path=/; HttpOnly`);
      ctx.body = "0";
    } else if (route === "/read" || route === "/write") {
      if (!ctx.headers.cookie) return void ((ctx.status = 401), (ctx.body = "no session"));
      const reply = applyRoute(route, bare);
      ctx.status = reply.status;
      ctx.body = reply.body;
    }
  });
  return createServer(app.callback());
}

/** The memory floor on Koa: one middleware (any session library is one) and a Map get or set per request. */
export function floorKoa(): Server {
  const counters = memoryCounters();
  const app = new Koa();
  app.use((ctx, next) => {
    if (ctx.path === "/login" || floorId(ctx.headers.cookie)) return next();
    ctx.status = 401;
    ctx.body = "no session";
  });
  app.use((ctx) => {
    const route = ctx.path;
    if (route === "/login") {
      ctx.set("set-cookie", counters.login());
      ctx.body = "0";
    } else if (route === "/read" || route === "/write") {
      const id = floorId(ctx.headers.cookie)!;
      const count = route === "/read" ? counters.read(id) : counters.write(id);
      if (count === undefined) return void ((ctx.status = 401), (ctx.body = "no session"));
      ctx.body = String(count);
    }
  });
  return createServer(app.callback());
}

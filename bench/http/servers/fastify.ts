/** Contestants on Fastify 5: session plugins registered first, the same three routes after. */
import Fastify from "fastify";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { SessionView } from "../routes.js";
import { applyRoute, bareView, ROUTES } from "../routes.js";
import { floorId, memoryCounters } from "./floor.js";

export async function fastifyApp(register: (app: FastifyInstance) => Promise<void>, view: (request: FastifyRequest) => SessionView): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  await register(app);
  for (const route of ROUTES) {
    app.get(route, async (request, reply) => {
      const result = applyRoute(route, view(request));
      reply.code(result.status);
      return result.body;
    });
  }
  return app;
}

export async function bareFastify(): Promise<FastifyInstance> {
  let logins = 0;
  const bare = bareView();
  const app = Fastify({ logger: false });
  app.get("/login", async (_request, reply) => {
    reply.header("set-cookie", `bare=${++logins}; Path=/; HttpOnly`);
    return "0";
  });
  for (const route of ["/read", "/write"] as const) {
    app.get(route, async (request, reply) => {
      if (!request.headers.cookie) return reply.code(401).send("no session");
      const result = applyRoute(route, bare);
      reply.code(result.status);
      return result.body;
    });
  }
  return app;
}

/** The memory floor on Fastify: one onRequest hook (any session plugin has one) and a Map get or set per request. */
export async function floorFastify(): Promise<FastifyInstance> {
  const counters = memoryCounters();
  const app = Fastify({ logger: false });
  app.addHook("onRequest", (request, reply, done) => {
    if (request.url === "/login" || floorId(request.headers.cookie)) return done();
    reply.code(401).send("no session");
  });
  app.get("/login", async (_request, reply) => {
    reply.header("set-cookie", counters.login());
    return "0";
  });
  for (const route of ["/read", "/write"] as const) {
    app.get(route, async (request, reply) => {
      const id = floorId(request.headers.cookie)!;
      const count = route === "/read" ? counters.read(id) : counters.write(id);
      if (count === undefined) return reply.code(401).send("no session");
      return String(count);
    });
  }
  return app;
}

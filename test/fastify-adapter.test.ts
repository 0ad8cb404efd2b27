import Fastify from "fastify";
import type { FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { sessionPlugin } from "../src/adapters/fastify.js";
import { SessionManager } from "../src/core/manager.js";
import { MemoryStore } from "../src/stores/memory.js";
import type { StartApp } from "./support/adapter-suite.js";
import { adapterSuite, sessionCookie } from "./support/adapter-suite.js";

type Query = { Querystring: { key: string; value: string; cc?: string } };

function addRoutes(scope: FastifyInstance): void {
  scope.get("/untouched", async () => "ok");
  scope.get("/read", async (request) => request.session.toJSON());
  scope.get<Query>("/set", async (request) => {
    request.session.set(request.query.key, request.query.value);
    return "ok";
  });
  scope.get<Query>("/cached", async (request, reply) => {
    request.session.set("seen", true);
    reply.header("cache-control", request.query.cc ?? "private, max-age=60");
    return "ok";
  });
  scope.post("/login", async (request) => {
    await request.session.regenerate();
    request.session.set("user", "alice");
    return "ok";
  });
  scope.post("/logout", async (request) => {
    await request.session.destroy();
    return "ok";
  });
}

async function listen(app: FastifyInstance) {
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { url, close: () => app.close() };
}

const startApp: StartApp = async (manager, errors) => {
  const app = Fastify();
  app.addHook("onError", async (_request, _reply, error) => {
    errors.push(error);
  });
  await app.register(sessionPlugin, { manager });
  addRoutes(app);
  return listen(app);
};

adapterSuite("Fastify", startApp);

describe("Fastify adapter specifics", () => {
  let app: FastifyInstance | undefined;
  afterEach(() => app?.close());

  it("gives a session only inside the scope that registered the plugin", async () => {
    app = Fastify();
    const manager = new SessionManager({ store: new MemoryStore(), gcInterval: 0 });
    await app.register(async (scope) => {
      await scope.register(sessionPlugin, { manager });
      scope.get("/inside", async (request) => {
        request.session.set("here", true);
        return { hasSession: request.session != null };
      });
    });
    app.get("/outside", async (request) => ({ hasSession: request.session != null }));
    const { url } = await listen(app);

    const inside = await fetch(`${url}/inside`);
    expect(await inside.json()).toEqual({ hasSession: true });
    expect(sessionCookie(inside)).toBeDefined();
    const outside = await fetch(`${url}/outside`, { headers: { cookie: sessionCookie(inside)! } });
    expect(await outside.json()).toEqual({ hasSession: false });
    expect(outside.headers.getSetCookie()).toEqual([]);
  });

  it("sends the app's own cookies alongside the session cookie", async () => {
    app = Fastify();
    await app.register(sessionPlugin, { manager: new SessionManager({ store: new MemoryStore(), gcInterval: 0 }) });
    app.get("/both", async (request, reply) => {
      request.session.set("a", 1);
      reply.header("set-cookie", "theme=dark; Path=/");
      return "ok";
    });
    const response = await app.inject({ method: "GET", url: "/both" });
    const cookies = [response.headers["set-cookie"]].flat();
    expect(cookies).toHaveLength(2);
    expect(cookies[0]).toBe("theme=dark; Path=/");
    expect(cookies[1]).toMatch(/^sid=/);
  });

  it("rejects registration without a manager", async () => {
    app = Fastify();
    // @ts-expect-error the manager option is required
    await expect(app.register(sessionPlugin, {})).rejects.toThrow(/manager/);
  });
});

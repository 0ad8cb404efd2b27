import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { H3, getQuery, setResponseHeader } from "h3";
import { toNodeHandler } from "h3/node";
import { describe, expect, it } from "vitest";
import { sessionMiddleware, useSession } from "../src/adapters/h3.js";
import { SessionManager } from "../src/core/manager.js";
import { MemoryStore } from "../src/stores/memory.js";
import type { RunningApp, StartApp } from "./support/adapter-suite.js";
import { adapterSuite, sessionCookie } from "./support/adapter-suite.js";

async function listen(app: H3): Promise<RunningApp> {
  const server = createServer(toNodeHandler(app));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((done) => server.close(() => done())) };
}

const startApp: StartApp = async (manager, errors) => {
  const app = new H3({
    silent: true,
    onError(error) {
      errors.push(error.cause ?? error); // h3 wraps what a handler throws in an HTTPError
    },
  });
  app.use(sessionMiddleware(manager));
  app.get("/untouched", () => "ok");
  app.get("/read", (event) => useSession(event).toJSON());
  app.get("/set", (event) => {
    const { key, value } = getQuery<{ key: string; value: string }>(event);
    useSession(event).set(key, value);
    return "ok";
  });
  app.get("/cached", (event) => {
    useSession(event).set("seen", true);
    setResponseHeader(event, "cache-control", getQuery(event).cc?.toString() ?? "private, max-age=60");
    return "ok";
  });
  app.post("/login", async (event) => {
    await useSession(event).regenerate();
    useSession(event).set("user", "alice");
    return "ok";
  });
  app.post("/logout", async (event) => {
    await useSession(event).destroy();
    return "ok";
  });
  return listen(app);
};

adapterSuite("h3", startApp);

describe("h3 adapter specifics", () => {
  function appWith(route: (app: H3) => void): Promise<RunningApp> {
    const app = new H3({ silent: true });
    app.use(sessionMiddleware(new SessionManager({ store: new MemoryStore(), gcInterval: 0 })));
    route(app);
    return listen(app);
  }

  it("adds the cookie to a Response the handler returns, keeping its status and Cache-Control", async () => {
    const running = await appWith((app) =>
      app.post("/rejected", (event) => {
        useSession(event).set("attempts", 1);
        return new Response("no", { status: 422, headers: { "cache-control": "private" } });
      }),
    );
    try {
      const response = await fetch(`${running.url}/rejected`, { method: "POST" });
      expect(response.status).toBe(422);
      expect(await response.text()).toBe("no");
      expect(sessionCookie(response)).toBeDefined();
      expect(response.headers.get("cache-control")).toBe("private");
    } finally {
      await running.close();
    }
  });

  it("adds the cookie to a JSON response (h3's shared, frozen JSON headers)", async () => {
    const running = await appWith((app) =>
      app.get("/json", (event) => {
        useSession(event).set("a", 1);
        return { ok: true };
      }),
    );
    try {
      const first = await fetch(`${running.url}/json`);
      expect(await first.json()).toEqual({ ok: true });
      expect(first.headers.get("content-type")).toContain("application/json");
      expect(sessionCookie(first)).toBeDefined();
      const second = await fetch(`${running.url}/json`);
      expect(second.headers.getSetCookie()).toHaveLength(1); // not the first response's cookie as well
    } finally {
      await running.close();
    }
  });

  it("useSession without the middleware throws a SessionError that says what to add", async () => {
    const app = new H3({ silent: true });
    const thrown: unknown[] = [];
    app.get("/", (event) => {
      try {
        return useSession(event).toJSON();
      } catch (error) {
        thrown.push(error);
        return "no session";
      }
    });
    expect(await (await app.request("/")).text()).toBe("no session");
    expect(thrown[0]).toMatchObject({ code: "ERR_SESSION_NO_MIDDLEWARE", message: expect.stringContaining("app.use(sessionMiddleware(sessions))") });
  });
});

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import type { SessionVariables } from "../src/adapters/hono.js";
import { sessionMiddleware } from "../src/adapters/hono.js";
import { SessionManager } from "../src/core/manager.js";
import { MemoryStore } from "../src/stores/memory.js";
import type { StartApp } from "./support/adapter-suite.js";
import { adapterSuite, sessionCookie } from "./support/adapter-suite.js";

function listen(app: Hono<{ Variables: SessionVariables }>) {
  return new Promise<{ url: string; close: () => Promise<void> }>((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) => {
      const close = () => new Promise<void>((done) => server.close(() => done()));
      resolve({ url: `http://127.0.0.1:${info.port}`, close });
    });
  });
}

const startApp: StartApp = async (manager, errors) => {
  const app = new Hono<{ Variables: SessionVariables }>();
  app.onError((error, c) => {
    errors.push(error);
    return c.text("session store failed", 503);
  });
  app.use(sessionMiddleware(manager));
  app.get("/untouched", (c) => c.text("ok"));
  app.get("/read", (c) => c.json(c.get("session").toJSON()));
  app.get("/set", (c) => {
    c.get("session").set(c.req.query("key")!, c.req.query("value"));
    return c.text("ok");
  });
  app.get("/cached", (c) => {
    c.get("session").set("seen", true);
    c.header("cache-control", c.req.query("cc") ?? "private, max-age=60");
    return c.text("ok");
  });
  app.post("/login", async (c) => {
    await c.get("session").regenerate();
    c.get("session").set("user", "alice");
    return c.text("ok");
  });
  app.post("/logout", async (c) => {
    await c.get("session").destroy();
    return c.text("ok");
  });
  return listen(app);
};

adapterSuite("Hono", startApp);

describe("Hono adapter specifics", () => {
  it("adds the cookie to a Response passed through from fetch() (immutable headers)", async () => {
    const upstream = createServer((_req, res) => res.writeHead(200, { "x-upstream": "yes" }).end("from upstream"));
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const { port } = upstream.address() as AddressInfo;
    const app = new Hono<{ Variables: SessionVariables }>();
    app.use(sessionMiddleware(new SessionManager({ store: new MemoryStore(), gcInterval: 0 })));
    app.get("/proxied", (c) => {
      c.get("session").set("a", 1);
      return fetch(`http://127.0.0.1:${port}/`);
    });
    try {
      const response = await app.request("/proxied");
      expect(response.status).toBe(200);
      expect(response.headers.get("x-upstream")).toBe("yes");
      expect(await response.text()).toBe("from upstream");
      expect(sessionCookie(response)).toBeDefined();
    } finally {
      await new Promise((resolve) => upstream.close(resolve));
    }
  });

  it("marks the cookie Secure for an https request URL", async () => {
    const app = new Hono<{ Variables: SessionVariables }>();
    app.use(sessionMiddleware(new SessionManager({ store: new MemoryStore(), gcInterval: 0 })));
    app.get("/", (c) => {
      c.get("session").set("a", 1);
      return c.text("ok");
    });
    const response = await app.request("https://example.test/");
    expect(response.headers.getSetCookie()[0]).toContain("Secure");
  });

  it("reads the session from a Fetch Request with no Node request behind it (any Fetch runtime)", async () => {
    const app = new Hono<{ Variables: SessionVariables }>();
    app.use(sessionMiddleware(new SessionManager({ store: new MemoryStore(), gcInterval: 0 })));
    app.get("/set", (c) => (c.get("session").set("user", "alice"), c.text("ok")));
    app.get("/read", (c) => c.text(String(c.get("session").get("user"))));
    const cookie = sessionCookie(await app.request("/set"))!;
    const response = await app.request("/read", { headers: { cookie } });
    expect(await response.text()).toBe("alice");
  });
});

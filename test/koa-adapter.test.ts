import type { Server } from "node:http";
import Koa from "koa";
import type { Context } from "koa";
import { describe, expect, it } from "vitest";
import { sessionMiddleware } from "../src/adapters/koa.js";
import { SessionManager } from "../src/core/manager.js";
import { MemoryStore } from "../src/stores/memory.js";
import type { StartApp } from "./support/adapter-suite.js";
import { adapterSuite, sessionCookie } from "./support/adapter-suite.js";

async function routes(ctx: Context): Promise<void> {
  const { session } = ctx;
  const key = `${ctx.method} ${ctx.path}`;
  if (key === "GET /untouched") ctx.body = "ok";
  else if (key === "GET /read") ctx.body = session.toJSON();
  else if (key === "GET /set") {
    session.set(String(ctx.query.key), String(ctx.query.value));
    ctx.body = "ok";
  } else if (key === "GET /cached") {
    session.set("seen", true);
    ctx.set("cache-control", typeof ctx.query.cc === "string" ? ctx.query.cc : "private, max-age=60");
    ctx.body = "ok";
  } else if (key === "POST /login") {
    await session.regenerate();
    session.set("user", "alice");
    ctx.body = "ok";
  } else if (key === "POST /logout") {
    await session.destroy();
    ctx.body = "ok";
  }
}

function listen(app: Koa) {
  return new Promise<{ url: string; close: () => Promise<void> }>((resolve) => {
    const server: Server = app.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      const close = () => new Promise<void>((done) => server.close(() => done()));
      resolve({ url: `http://127.0.0.1:${port}`, close });
    });
  });
}

const startApp: StartApp = async (manager, errors) => {
  const app = new Koa();
  // Koa emits "error" for every error its error path answers; listening also keeps the log quiet.
  app.on("error", (error: unknown) => errors.push(error));
  app.use(sessionMiddleware(manager));
  app.use(routes);
  return listen(app);
};

adapterSuite("Koa", startApp);

describe("Koa adapter specifics", () => {
  it("marks the cookie Secure behind a trusted TLS proxy (ctx.secure)", async () => {
    const app = new Koa({ proxy: true });
    app.use(sessionMiddleware(new SessionManager({ store: new MemoryStore(), gcInterval: 0 })));
    app.use((ctx) => {
      ctx.session.set("a", 1);
      ctx.body = "ok";
    });
    const { url, close } = await listen(app);
    try {
      const proxied = await fetch(url, { headers: { "x-forwarded-proto": "https" } });
      expect(proxied.headers.getSetCookie()[0]).toContain("Secure");
      const direct = await fetch(url);
      expect(direct.headers.getSetCookie()[0]).not.toContain("Secure");
      expect(sessionCookie(direct)).toBeDefined();
    } finally {
      await close();
    }
  });

  it("does not commit when a later middleware throws", async () => {
    const store = new MemoryStore();
    const app = new Koa();
    app.silent = true;
    app.use(sessionMiddleware(new SessionManager({ store, gcInterval: 0 })));
    app.use((ctx) => {
      ctx.session.set("half", "done");
      throw new Error("handler failed");
    });
    const { url, close } = await listen(app);
    try {
      const response = await fetch(url);
      expect(response.status).toBe(500);
      expect(response.headers.getSetCookie()).toEqual([]);
      expect(store.count()).toBe(0);
    } finally {
      await close();
    }
  });
});

import { createServer } from "node:http";
import express from "express";
import Fastify from "fastify";
import Koa from "koa";
import { afterAll, describe, expect, it } from "vitest";
import { sessionMiddleware as expressSessions } from "../../src/adapters/express.js";
import { sessionPlugin } from "../../src/adapters/fastify.js";
import { sessionMiddleware as koaSessions } from "../../src/adapters/koa.js";
import { MemoryStore, SessionManager } from "../../src/index.js";
import { listen } from "../support/http.js";

// The device list shows the client IP as the framework sees it, its trust-proxy setting applied.
const UA = "Mozilla/5.0 (Android 15; Mobile) device-info test";
const FORWARDED = "198.51.100.23";

async function signInThrough(url: string): Promise<void> {
  const response = await fetch(`${url}/login`, { headers: { "user-agent": UA, "x-forwarded-for": FORWARDED } });
  expect(response.status).toBe(200);
  expect(response.headers.get("set-cookie")).toMatch(/^sid=/);
}

const closers: Array<() => Promise<unknown>> = [];
afterAll(() => Promise.all(closers.map((close) => close())));

describe("deviceInfo records User-Agent and the framework's client IP at sign-in", () => {
  it("Express with trust proxy: req.ip", async () => {
    const sessions = new SessionManager({ store: new MemoryStore() });
    const app = express();
    app.set("trust proxy", true);
    app.use(expressSessions(sessions));
    app.get("/login", async (req, res) => {
      await req.session.signIn("ada");
      res.send("ok");
    });
    const { url, close } = await listen(createServer(app));
    closers.push(close);
    await signInThrough(url);
    const [device] = await sessions.listSessions("ada");
    expect(device).toMatchObject({ userAgent: UA, ip: FORWARDED });
  });

  it("Fastify with trustProxy: request.ip", async () => {
    const sessions = new SessionManager({ store: new MemoryStore() });
    const app = Fastify({ trustProxy: true });
    await app.register(sessionPlugin, { manager: sessions });
    app.get("/login", async (request) => {
      await request.session.signIn("ada");
      return "ok";
    });
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    closers.push(() => app.close());
    await signInThrough(url);
    expect((await sessions.listSessions("ada"))[0]).toMatchObject({ userAgent: UA, ip: FORWARDED });
  });

  it("Koa with app.proxy: ctx.ip; deviceInfo: false records nothing", async () => {
    const sessions = new SessionManager({ store: new MemoryStore() });
    const silent = new SessionManager({ store: new MemoryStore(), deviceInfo: false });
    for (const manager of [sessions, silent]) {
      const app = new Koa();
      app.proxy = true; // ctx.ip honours X-Forwarded-For; the raw request would show the socket
      app.use(koaSessions(manager));
      app.use(async (ctx) => {
        await ctx.session.signIn("ada");
        ctx.body = "ok";
      });
      const { url, close } = await listen(createServer(app.callback()));
      closers.push(close);
      await signInThrough(url);
    }
    expect((await sessions.listSessions("ada"))[0]).toMatchObject({ userAgent: UA, ip: FORWARDED });
    const [hidden] = await silent.listSessions("ada");
    expect(hidden?.userAgent).toBeUndefined();
    expect(hidden?.ip).toBeUndefined();
  });
});

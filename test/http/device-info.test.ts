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

/** Express with `trust proxy` on, whose /login signs `userId` in. */
async function trustingExpress(sessions: SessionManager, userId: string): Promise<string> {
  const app = express();
  app.set("trust proxy", true);
  app.use(expressSessions(sessions));
  app.get("/login", async (req, res) => {
    await req.session.signIn(userId);
    res.send("ok");
  });
  const { url, close } = await listen(createServer(app));
  closers.push(close);
  return url;
}

describe("deviceInfo records User-Agent and the framework's client IP at sign-in", () => {
  it("Express with trust proxy: req.ip", async () => {
    const sessions = new SessionManager({ store: new MemoryStore() });
    const url = await trustingExpress(sessions, "ada");
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

describe("device details are capped and checked at capture (issue 31)", () => {
  it("Express with trust proxy: a 3,000-character X-Forwarded-For is not stored as the IP", async () => {
    const sessions = new SessionManager({ store: new MemoryStore() });
    const url = await trustingExpress(sessions, "eve");
    const response = await fetch(`${url}/login`, { headers: { "user-agent": UA, "x-forwarded-for": "9".repeat(3000) } });
    expect(response.status).toBe(200);
    const [device] = await sessions.listSessions("eve");
    expect(device!.ip).toBeUndefined();
    expect(device!.userAgent).toBe(UA);
  });

  it("keeps a real IPv4 or IPv6 address; control characters in a User-Agent become U+FFFD", async () => {
    const sessions = new SessionManager({ store: new MemoryStore(), gcInterval: 0 });
    const devices: Array<[string, string]> = [
      ["2001:db8::1", "curl/8\u001b[2J\u0007\r\u009b31m"],
      ["203.0.113.9", "x".repeat(1000)],
      ["not an ip\u001b[2J", "ok"],
    ];
    for (const [ip, userAgent] of devices) {
      const session = await sessions.load(undefined, { device: { ip, headers: { "user-agent": userAgent } } });
      await session.signIn("mallory");
      await sessions.commit(session);
    }
    const seen = (await sessions.listSessions("mallory")).map(({ ip, userAgent }) => [ip ?? null, userAgent]);
    expect(seen).toEqual(
      expect.arrayContaining([
        ["2001:db8::1", "curl/8\ufffd[2J\ufffd\ufffd\ufffd31m"],
        ["203.0.113.9", "x".repeat(256)],
        [null, "ok"],
      ]),
    );
    expect(seen).toHaveLength(3);
  });
});

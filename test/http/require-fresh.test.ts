/** requireFresh through real servers: Express and Hono on 127.0.0.1, with a clock the test moves. */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import Koa from "koa";
import { afterEach, describe, expect, it } from "vitest";
import { requireFresh as expressRequireFresh, sessionMiddleware as expressSessions } from "../../src/adapters/express.js";
import { requireFresh as fastifyRequireFresh, sessionPlugin } from "../../src/adapters/fastify.js";
import { requireFresh as honoRequireFresh, sessionMiddleware as honoSessions } from "../../src/adapters/hono.js";
import { requireFresh as koaRequireFresh, sessionMiddleware as koaSessions } from "../../src/adapters/koa.js";
import { SessionManager } from "../../src/core/manager.js";
import { MemoryStore } from "../../src/stores/memory.js";

const closers: Array<() => void> = [];
afterEach(() => closers.splice(0).forEach((close) => close()));

function setup() {
  let now = Date.now();
  const sessions = new SessionManager({ store: new MemoryStore(), now: () => now, gcInterval: 0 });
  return { sessions, advance: (ms: number) => (now += ms) };
}

async function flow(base: string, advance: (ms: number) => void) {
  const login = await fetch(`${base}/login`, { method: "POST" });
  let cookie = login.headers.getSetCookie()[0]!.split(";")[0]!;
  const sensitive = () => fetch(`${base}/sensitive`, { method: "POST", headers: { cookie }, redirect: "manual" });
  expect((await sensitive()).status, "just signed in: fresh").toBe(200);
  advance(11 * 60_000);
  const stale = await sensitive();
  expect(stale.status, "eleven minutes later: stale").toBe(401);
  const confirm = await fetch(`${base}/confirm`, { method: "POST", headers: { cookie } });
  cookie = confirm.headers.getSetCookie()[0]!.split(";")[0]!; // reauthenticated rotates the id
  expect((await sensitive()).status, "fresh again after reauthentication").toBe(200);
  expect((await fetch(`${base}/sensitive`, { method: "POST" })).status, "signed out: never fresh").toBe(401);
}

describe("requireFresh", () => {
  it("Express: passes a fresh sign-in, stops a stale one with 401 until reauthenticated", async () => {
    const { sessions, advance } = setup();
    const app = express();
    app.use(expressSessions(sessions));
    app.post("/login", async (req, res) => void (await req.session.signIn("ada", { method: "password" }), res.end("ok")));
    app.post("/confirm", async (req, res) => void (await req.session.reauthenticated({ method: "password" }), res.end("ok")));
    app.post("/sensitive", expressRequireFresh("10m"), (_req, res) => void res.end("done"));
    const server = app.listen(0, "127.0.0.1");
    closers.push(() => server.close());
    await new Promise((resolve) => server.once("listening", resolve));
    await flow(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, advance);
  });

  it("Hono: the same, and methods restricts which authentications count", async () => {
    const { sessions, advance } = setup();
    const app = new Hono();
    app.use(honoSessions(sessions));
    app.post("/login", async (c) => (await c.get("session").signIn("ada", { method: "password" }), c.text("ok")));
    app.post("/confirm", async (c) => (await c.get("session").reauthenticated({ method: "password" }), c.text("ok")));
    app.post("/sensitive", honoRequireFresh("10m"), (c) => c.text("done"));
    app.post("/webauthn-only", honoRequireFresh("10m", { methods: ["webauthn"] }), (c) => c.text("done"));
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
    closers.push(() => server.close());
    await new Promise((resolve) => server.once("listening", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await flow(base, advance);
    const login = await fetch(`${base}/login`, { method: "POST" });
    const cookie = login.headers.getSetCookie()[0]!.split(";")[0]!;
    expect((await fetch(`${base}/webauthn-only`, { method: "POST", headers: { cookie } })).status, "a password sign-in is not a WebAuthn one").toBe(401);
  });

  it("Fastify: the same, as a preHandler", async () => {
    const { sessions, advance } = setup();
    const app = Fastify();
    await app.register(sessionPlugin, { manager: sessions });
    app.post("/login", async (request) => (await request.session.signIn("ada", { method: "password" }), "ok"));
    app.post("/confirm", async (request) => (await request.session.reauthenticated({ method: "password" }), "ok"));
    app.post("/sensitive", { preHandler: fastifyRequireFresh("10m") }, async () => "done");
    const base = await app.listen({ port: 0, host: "127.0.0.1" });
    closers.push(() => void app.close());
    await flow(base, advance);
  });

  it("Koa: the same, as middleware before the route", async () => {
    const { sessions, advance } = setup();
    const app = new Koa();
    app.use(koaSessions(sessions));
    const guard = koaRequireFresh("10m");
    app.use(async (ctx, next) => {
      if (ctx.path === "/login") await ctx.session.signIn("ada", { method: "password" });
      else if (ctx.path === "/confirm") await ctx.session.reauthenticated({ method: "password" });
      else if (ctx.path === "/sensitive") return guard(ctx, async () => void (ctx.body = "done"));
      else return next();
      ctx.body = "ok";
    });
    const server = app.listen(0, "127.0.0.1");
    closers.push(() => server.close());
    await new Promise((resolve) => server.once("listening", resolve));
    await flow(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, advance);
  });

  it("rejects a bad maxAge when the route is defined", () => {
    expect(() => expressRequireFresh("ten minutes")).toThrow(TypeError);
    expect(() => fastifyRequireFresh("ten minutes")).toThrow(TypeError);
    expect(() => koaRequireFresh("ten minutes")).toThrow(TypeError);
  });
});

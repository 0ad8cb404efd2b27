/**
 * The DBSC endpoints as each adapter mounts them, in real apps on 127.0.0.1: a sign-in offers
 * registration, the browser binds, the bound cookie lapses, a signed refresh renews it.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import Koa from "koa";
import { describe, expect, it } from "vitest";
import { sessionMiddleware as expressSession } from "../src/adapters/express.js";
import { sessionPlugin } from "../src/adapters/fastify.js";
import { sessionMiddleware as honoSession } from "../src/adapters/hono.js";
import { sessionMiddleware as koaSession } from "../src/adapters/koa.js";
import { MemoryStore, SessionManager } from "../src/index.js";
import { Browser } from "./support/dbsc-browser.js";
import { listen } from "./support/http.js";

type Served = { url: string; close: () => Promise<void> };
const MINUTE = 60_000;

const apps: Record<string, (manager: SessionManager) => Promise<Served>> = {
  async express(manager) {
    const app = express();
    app.use(expressSession(manager));
    app.get("/login", async (req, res) => {
      await req.session.signIn("alice");
      res.json({ ok: true });
    });
    app.get("/me", (req, res) => void res.json({ userId: req.session.userId ?? null, bound: req.session.bound }));
    return listen(createServer(app));
  },
  async fastify(manager) {
    const app = Fastify();
    await app.register(sessionPlugin, { manager });
    app.get("/login", async (request) => {
      await request.session.signIn("alice");
      return { ok: true };
    });
    app.get("/me", async (request) => ({ userId: request.session.userId ?? null, bound: request.session.bound }));
    const url = await app.listen({ port: 0, host: "127.0.0.1" });
    return { url, close: () => app.close() };
  },
  async koa(manager) {
    const app = new Koa();
    app.use(koaSession(manager));
    app.use(async (ctx) => {
      if (ctx.path === "/login") await ctx.session.signIn("alice");
      ctx.body = { userId: ctx.session.userId ?? null, bound: ctx.session.bound };
    });
    return listen(createServer(app.callback()));
  },
  async hono(manager) {
    const app = new Hono();
    app.use(honoSession(manager));
    app.get("/login", async (c) => {
      await c.get("session").signIn("alice");
      return c.json({ ok: true });
    });
    app.get("/me", (c) => c.json({ userId: c.get("session").userId ?? null, bound: c.get("session").bound }));
    return new Promise((resolve) => {
      const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) => {
        resolve({ url: `http://127.0.0.1:${info.port}`, close: () => new Promise<void>((done) => server.close(() => done())) });
      });
    });
  },
};

describe.each(Object.keys(apps))("DBSC endpoints in %s", (name) => {
  it("binds at registration, refreshes against a signed challenge, answers no-store", async () => {
    let now = Date.now();
    const manager = new SessionManager({ store: new MemoryStore(), now: () => now, dbsc: { registrationPath: "/dbsc/start", refreshPath: "/dbsc/refresh" } });
    const served = await apps[name]!(manager);
    try {
      const browser = new Browser(served.url);
      await browser.fetch("/login");
      expect(browser.lastRegistration?.path).toBe("/dbsc/start");
      const registered = await browser.register();
      expect(registered.status).toBe(200);
      expect(registered.headers.get("cache-control")).toBe("private, no-store");
      expect(registered.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await browser.me()).toEqual({ userId: "alice", bound: true });

      now += 11 * MINUTE;
      expect(await browser.me()).toEqual({ userId: null, bound: false });
      const challenged = await browser.fetch("/dbsc/refresh", { method: "POST", headers: { "sec-secure-session-id": `"${browser.sessionId}"` } });
      expect(challenged.status).toBe(403);
      expect(challenged.headers.get("cache-control")).toBe("private, no-store");
      const refreshed = await browser.refresh();
      expect(refreshed.status).toBe(200);
      expect(refreshed.headers.get("cache-control")).toBe("private, no-store");
      expect(await browser.me()).toEqual({ userId: "alice", bound: true });
    } finally {
      await served.close();
    }
  });
});

/**
 * Issue 11 item 2: a response that carries a session Set-Cookie (new id, re-sign, re-seal, expiry)
 * must not be storable by a shared cache, whatever Cache-Control the app or its framework set.
 * Fastify, Koa and Hono are covered by the shared adapter suite (test/support/adapter-suite.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessionMiddleware } from "../../src/adapters/express.js";
import { MemoryStore, SessionManager } from "../../src/index.js";
import { CookieStore } from "../../src/stores/cookie.js";
import { CookieClient, listen } from "../support/http.js";

const SECRET = "cache-control-test-secret-0123456789abcdef";

describe("Express: Cache-Control on responses that set the session cookie", () => {
  const clock = { t: Date.UTC(2026, 0, 1) };
  const now = () => clock.t;
  const assets = mkdtempSync(join(tmpdir(), "sessionkit-cache-control-"));
  writeFileSync(join(assets, "logo.txt"), "logo");
  let url = "";
  let close: () => Promise<void>;

  beforeAll(async () => {
    const app = express();
    // The cookie store re-seals the whole session on a touch, so even a static asset carries it.
    app.use(sessionMiddleware(new SessionManager({ store: new CookieStore({ secrets: [SECRET] }), now, touchInterval: "1m" })));
    app.use(express.static(assets)); // sends Cache-Control: public, max-age=0
    app.get("/login", (req, res) => {
      req.session.set("user", "ada");
      res.set("Cache-Control", "public, max-age=300").send("ok");
    });
    ({ url, close } = await listen(createServer(app)));
  });
  afterAll(async () => {
    await close();
    rmSync(assets, { recursive: true, force: true });
  });

  it("replaces the app's public Cache-Control on a new session's response with private, no-store", async () => {
    const response = await new CookieClient(url).get("/login");
    expect(response.headers.getSetCookie()).toHaveLength(1);
    expect(response.headers.get("cache-control")).toBe("private, no-store");
  });

  it("leaves express.static's Cache-Control alone while the asset carries no cookie", async () => {
    const client = new CookieClient(url);
    await client.get("/login");
    const asset = await client.get("/logo.txt");
    expect(await asset.text()).toBe("logo");
    expect(asset.headers.getSetCookie()).toEqual([]);
    expect(asset.headers.get("cache-control")).toBe("public, max-age=0");
  });

  it("makes an express.static asset private, no-store when the touch re-seals the cookie onto it", async () => {
    const client = new CookieClient(url);
    await client.get("/login");
    clock.t += 2 * 60_000; // past touchInterval: the next request re-seals the session
    const asset = await client.get("/logo.txt");
    expect(await asset.text()).toBe("logo");
    expect(asset.headers.getSetCookie()).toHaveLength(1);
    expect(asset.headers.get("cache-control")).toBe("private, no-store");
  });
});

describe("node:http release: Cache-Control on responses that set the session cookie", () => {
  const sessions = new SessionManager({ store: new MemoryStore(), gcInterval: 0 });
  let url = "";
  let close: () => Promise<void>;

  beforeAll(async () => {
    const server = createServer(async (req, res) => {
      const session = await sessions.start(req);
      res.setHeader("cache-control", "public, max-age=300");
      if (req.url === "/login") session.set("user", "ada");
      await sessions.release(session, res);
      res.end("ok");
    });
    ({ url, close } = await listen(server));
  });
  afterAll(() => close());

  it("replaces public with private, no-store when release sets the cookie, and only then", async () => {
    const client = new CookieClient(url);
    const login = await client.get("/login");
    expect(login.headers.getSetCookie()).toHaveLength(1);
    expect(login.headers.get("cache-control")).toBe("private, no-store");
    const page = await client.get("/page");
    expect(page.headers.getSetCookie()).toEqual([]);
    expect(page.headers.get("cache-control")).toBe("public, max-age=300");
  });
});

describe("Fetch commitResponse: Cache-Control on responses that set the session cookie", () => {
  it("replaces public with private, no-store when the commit sets the cookie, and keeps private or no-store", async () => {
    const sessions = new SessionManager({ store: new MemoryStore(), gcInterval: 0 });
    for (const [app, sent] of [
      ["public, max-age=300", "private, no-store"],
      ["s-maxage=600", "private, no-store"],
      ["private, max-age=60", "private, max-age=60"],
      ["no-store", "no-store"],
    ]) {
      const session = await sessions.loadRequest(new Request("http://localhost/"));
      session.set("user", "ada");
      const headers = new Headers({ "cache-control": app! });
      await sessions.commitResponse(session, headers);
      expect(headers.getSetCookie(), app).toHaveLength(1);
      expect(headers.get("cache-control"), app).toBe(sent);
    }
  });

  it("leaves the app's Cache-Control alone when no cookie is sent", async () => {
    const sessions = new SessionManager({ store: new MemoryStore(), gcInterval: 0 });
    const session = await sessions.loadRequest(new Request("http://localhost/"));
    const headers = new Headers({ "cache-control": "public, max-age=300" });
    await sessions.commitResponse(session, headers);
    expect(headers.getSetCookie()).toEqual([]);
    expect(headers.get("cache-control")).toBe("public, max-age=300");
  });
});

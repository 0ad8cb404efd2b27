/**
 * The NestJS example (app.ts beside this file) on both platforms, listening on 127.0.0.1 and
 * driven by fetch. Compiled with its own tsconfig (legacy decorators and their metadata).
 */
import type { INestApplication } from "@nestjs/common";
import { afterEach, describe, expect, it } from "vitest";
import { SessionManager } from "../../../src/core/manager.js";
import type { Platform } from "./app.js";
import { createNestApp } from "./app.js";
import { TestStore, sessionCookie } from "../../support/adapter-suite.js";

let running: INestApplication | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

describe.each<Platform>(["express", "fastify"])("NestJS on the %s platform", (platform) => {
  async function start(): Promise<{ store: TestStore; request: (method: string, path: string, cookie?: string) => Promise<Response> }> {
    const store = new TestStore();
    running = await createNestApp(platform, new SessionManager({ store, gcInterval: 0 }));
    await running.listen(0, "127.0.0.1");
    const base = (await running.getUrl()).replace("[::1]", "127.0.0.1");
    const request = (method: string, path: string, cookie?: string) => fetch(base + path, { method, headers: cookie ? { cookie } : {} });
    return { store, request };
  }

  it("@Session() writes, the next request reads, with the core's cookie and Cache-Control", async () => {
    const { request } = await start();
    const first = await request("POST", "/count");
    expect(await first.json()).toEqual({ views: 1 });
    const cookie = sessionCookie(first);
    expect(cookie).toBeDefined();
    expect(first.headers.get("cache-control")).toContain("no-store");
    await request("POST", "/count", cookie);
    expect(await (await request("GET", "/me", cookie)).json()).toEqual({ user: null, views: 2 });
  });

  it("signs in with a new id (the old one loads nothing) and signs out", async () => {
    const { request } = await start();
    const before = sessionCookie(await request("POST", "/count"));
    const login = await request("POST", "/login?user=alice", before);
    const after = sessionCookie(login);
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    expect(await (await request("GET", "/me", after)).json()).toEqual({ user: "alice", views: 1 });
    expect(await (await request("GET", "/me", before)).json()).toEqual({ user: null, views: 0 });
    const logout = await request("POST", "/logout", after);
    expect(logout.headers.getSetCookie()[0]).toMatch(/^sid=;/);
    expect(await (await request("GET", "/me", after)).json()).toEqual({ user: null, views: 0 });
  });

  it("answers a failed store write with a 5xx and no cookie", async () => {
    const { store, request } = await start();
    store.failing = true;
    const response = await request("POST", "/count");
    expect(response.status).toBeGreaterThanOrEqual(500);
    expect(response.headers.getSetCookie()).toEqual([]);
  });
});

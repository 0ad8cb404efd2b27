/** Renewal with a grace window through real servers: Express and Hono on 127.0.0.1, with a clock the test moves. */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import express from "express";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { sessionMiddleware as expressSessions } from "../../src/adapters/express.js";
import { sessionMiddleware as honoSessions } from "../../src/adapters/hono.js";
import { SessionManager } from "../../src/core/manager.js";
import { MemoryStore } from "../../src/stores/memory.js";

const closers: Array<() => void> = [];
afterEach(() => closers.splice(0).forEach((close) => close()));

function setup() {
  let now = Date.now();
  const sessions = new SessionManager<{ n?: number }>({ store: new MemoryStore(), now: () => now, gcInterval: 0, renewInterval: "15m", renewGrace: "30s" });
  return { sessions, advance: (ms: number) => (now += ms) };
}

async function listening(server: Pick<Server, "once" | "address" | "close">): Promise<string> {
  closers.push(() => server.close());
  await new Promise((resolve) => server.once("listening", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** POST /count increments n; the previous id, in the grace window, still counts on the same session and gets the current cookie. */
async function flow(base: string, advance: (ms: number) => void) {
  const count = async (cookie?: string) => {
    const response = await fetch(`${base}/count`, { method: "POST", headers: cookie ? { cookie } : {} });
    return { n: Number(await response.text()), cookie: response.headers.getSetCookie()[0]?.split(";")[0] };
  };
  const first = (await count()).cookie!;
  expect((await count(first)).cookie, "not due: no cookie").toBeUndefined();
  advance(16 * 60_000);
  const renewed = await count(first);
  expect(renewed.n).toBe(3);
  expect(renewed.cookie).toBeDefined();
  expect(renewed.cookie).not.toBe(first);
  const late = await count(first); // a tab that still had the previous cookie
  expect(late.n, "the same session").toBe(4);
  expect(late.cookie, "gets the current cookie").toBe(renewed.cookie);
  advance(31_000);
  expect((await count(first)).n, "after the grace the previous id starts over").toBe(1);
  expect((await count(renewed.cookie)).n).toBe(5);
}

describe("renewal through adapters", () => {
  it("Express", async () => {
    const { sessions, advance } = setup();
    const app = express();
    app.use(expressSessions(sessions));
    app.post("/count", (req, res) => {
      const n = Number(req.session.get("n") ?? 0) + 1;
      req.session.set("n", n);
      res.end(String(n));
    });
    await flow(await listening(app.listen(0, "127.0.0.1")), advance);
  });

  it("Hono", async () => {
    const { sessions, advance } = setup();
    const app = new Hono();
    app.use(honoSessions(sessions));
    app.post("/count", (c) => {
      const session = c.get("session");
      const n = Number(session.get("n") ?? 0) + 1;
      session.set("n", n);
      return c.text(String(n));
    });
    await flow(await listening(serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }) as unknown as Server), advance);
  });
});

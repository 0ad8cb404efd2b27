/**
 * What a RedisStore user sees when Redis fails: a private redis-server per driver (never the
 * shared one) is SIGKILLed and restarted on the same port, and the store's connection is cut
 * with CLIENT KILL. The same client object must recover by itself.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { AddressInfo, Server, Socket } from "node:net";
import { connect, createServer } from "node:net";
import { performance } from "node:perf_hooks";
import express from "express";
import type { NextFunction, Request, Response } from "express";
import { GlideClient, Logger } from "@valkey/valkey-glide";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessionMiddleware } from "../src/adapters/express.js";
import { SessionStoreError } from "../src/core/errors.js";
import { hashToken } from "../src/core/ids.js";
import { SessionManager } from "../src/core/manager.js";
import type { RedisClientLike } from "../src/stores/redis.js";
import { RedisStore } from "../src/stores/redis.js";
import { freePort } from "./support/servers.js";

const redisServerInstalled = await new Promise<boolean>((resolve) => {
  const probe = spawn("redis-server", ["--version"]);
  probe.once("error", () => resolve(false));
  probe.once("exit", (code) => resolve(code === 0));
});
if (!redisServerInstalled) {
  if (process.env.CI === "true") throw new Error("redis-server is not on PATH (CI=true: a missing server fails the run)");
  console.warn("\n!!! SKIPPING the Redis fault tests: redis-server is not on PATH.\n");
}

/** A redis-server this file owns: no persistence, so a SIGKILL loses its data by design. */
class PrivateRedis {
  #process: ChildProcess | undefined;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
    this.#process = child;
    await new Promise<void>((resolve, reject) => {
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("Ready to accept connections")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`redis-server exited with ${String(code)}: ${output}`)));
    });
  }

  async kill(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }
}

/**
 * A TCP relay to a server, cut and restored at will. Unlike a killed server, the server behind it
 * keeps its data and script cache: a write the client still sends after the link is back lands.
 */
class CuttableLink {
  #listener: Server | undefined;
  readonly #sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    readonly target: number,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    const listener = createServer((client) => {
      const upstream = connect(this.target, "127.0.0.1");
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on("error", () => {});
        socket.on("close", () => (this.#sockets.delete(socket), client.destroy(), upstream.destroy()));
      }
      client.pipe(upstream).pipe(client);
    });
    this.#listener = listener;
    await new Promise<void>((resolve) => listener.listen(this.port, "127.0.0.1", resolve));
  }

  async down(): Promise<void> {
    const listener = this.#listener;
    this.#listener = undefined;
    for (const socket of this.#sockets) socket.destroy();
    if (listener) await new Promise((resolve) => listener.close(resolve));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const tokenOf = (cookies: string[]) => /^sid=([^;]*)/.exec(cookies[0] ?? "")?.[1] ?? expect.unreachable("no session cookie");

/** Retries `run` until it resolves; the deadline is generous because drivers back off up to 2 s between reconnects. */
async function eventually<T>(run: () => Promise<T>, deadlineMs = 15_000): Promise<T> {
  const until = performance.now() + deadlineMs;
  for (;;) {
    try {
      return await run();
    } catch (error) {
      if (performance.now() > until) throw error;
      await sleep(100);
    }
  }
}

async function timedRejection(promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  try {
    await promise;
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
  return expect.unreachable("the store call succeeded while Redis was down");
}

interface Driver {
  name: string;
  /** A connected client with the driver's default settings, plus its connection id and a closer. */
  connect(url: string, failFast?: boolean): Promise<{ client: RedisClientLike; connectionId: () => Promise<number>; close: () => Promise<unknown> }>;
}

const drivers: Driver[] = [
  {
    name: "node-redis",
    connect: async (url, failFast = false) => {
      const client = createClient({ url, disableOfflineQueue: failFast });
      client.on("error", () => {}); // reconnect errors are expected here; unhandled they would crash the run
      await client.connect();
      return { client, connectionId: () => client.clientId(), close: () => client.close() };
    },
  },
  {
    name: "ioredis",
    connect: async (url, failFast = false) => {
      const client = new Redis(url, { enableOfflineQueue: !failFast });
      client.on("error", () => {});
      await new Promise((resolve) => client.once("ready", resolve));
      return { client, connectionId: async () => Number(await client.client("ID")), close: async () => client.disconnect() };
    },
  },
];

describe.each(drivers)("RedisStore when Redis fails ($name)", (driver) => {
  const register = redisServerInstalled ? it : it.skip;
  let server: PrivateRedis;
  let connection: Awaited<ReturnType<Driver["connect"]>>;
  let sessions: SessionManager;

  beforeAll(async () => {
    if (!redisServerInstalled) return;
    server = new PrivateRedis(await freePort());
    await server.start();
    connection = await driver.connect(server.url);
    sessions = new SessionManager({ store: new RedisStore({ client: connection.client }), storeTimeout: "500ms", gcInterval: 0 });
  });

  afterAll(async () => {
    if (!redisServerInstalled) return;
    await sessions.close();
    await connection.close();
    await server.kill();
  });

  register("load and commit reject with SessionStoreError within 2 s while Redis is down, and work again after a restart", async () => {
    const first = await sessions.load();
    first.set("user", "ada");
    const token = tokenOf(await sessions.commit(first));

    await server.kill();
    const load = await timedRejection(sessions.load(token));
    const fresh = await sessions.load(); // a new session needs no store call to load
    fresh.set("user", "bob");
    const commit = await timedRejection(sessions.commit(fresh));
    for (const { error, ms } of [load, commit]) {
      expect(error).toBeInstanceOf(SessionStoreError);
      expect((error as SessionStoreError).code).toBe("ERR_SESSION_STORE");
      // Either the driver's own error (cause) or the storeTimeout, never a hang.
      expect((error as SessionStoreError).cause ?? (error as Error).message).toBeTruthy();
      expect(ms).toBeLessThan(2000);
    }
    console.info(`[faults ${driver.name}] down: load rejected in ${load.ms.toFixed(0)} ms (${(load.error as Error).message}); commit in ${commit.ms.toFixed(0)} ms`);

    await server.start(); // same port, same client object
    const restartedAt = performance.now();
    const again = await eventually(async () => {
      const session = await sessions.load();
      session.set("user", "carol");
      return tokenOf(await sessions.commit(session));
    });
    console.info(`[faults ${driver.name}] first successful commit ${(performance.now() - restartedAt).toFixed(0)} ms after restart`);
    expect((await sessions.load(again)).get("user")).toBe("carol");
    // No persistence on this server: what it held before the SIGKILL is gone, so the old token starts over.
    expect((await sessions.load(token)).isNew).toBe(true);
  });

  register("with the offline queue off, a call fails at once and carries the driver's error as cause", async () => {
    const failFast = await driver.connect(server.url, true);
    const fast = new SessionManager({ store: new RedisStore({ client: failFast.client }), storeTimeout: "500ms", gcInterval: 0 });
    try {
      const session = await fast.load();
      session.set("user", "ada");
      const token = tokenOf(await fast.commit(session));
      await server.kill();
      // The driver notices the closed socket a moment after the kill; until then a call may still be in flight.
      await eventually(() => timedRejection(fast.load(token)), 2000);
      const { error, ms } = await timedRejection(fast.load(token));
      expect(error).toBeInstanceOf(SessionStoreError);
      expect((error as SessionStoreError).code).toBe("ERR_SESSION_STORE");
      expect((error as SessionStoreError).cause).toBeInstanceOf(Error);
      expect(ms).toBeLessThan(100);
      console.info(`[faults ${driver.name}] offline queue off: rejected in ${ms.toFixed(1)} ms, cause: ${((error as Error).cause as Error).message}`);
      await server.start();
      const again = await eventually(async () => {
        const next = await fast.load();
        next.set("user", "bob");
        return tokenOf(await fast.commit(next));
      });
      expect((await fast.load(again)).get("user")).toBe("bob");
    } finally {
      await fast.close();
      await failFast.close();
    }
  });

  // node-redis 5+ withdraws a queued command when its signal aborts; ioredis has no such option.
  if (driver.name === "node-redis") {
    // Through a link that is cut: the server keeps the store's scripts, so a queued write that
    // was not withdrawn lands once the link is back (a restarted server would refuse its EVALSHA).
    const cases = [
      { name: "a commit that hit storeTimeout (the client's own timeout is longer)", clientTimeout: undefined, storeTimeout: "300ms" },
      { name: "a commit that hit the client's own, shorter command timeout", clientTimeout: 300, storeTimeout: "3s" },
    ];
    for (const { name, clientTimeout, storeTimeout } of cases) {
      register(`${name} while the link was cut never lands once it is back`, async () => {
        const link = new CuttableLink(await freePort(), server.port);
        await link.up();
        const client = createClient({ url: link.url, commandOptions: clientTimeout === undefined ? undefined : { timeout: clientTimeout } });
        client.on("error", () => {});
        await client.connect();
        const store = new RedisStore({ client });
        const manager = new SessionManager({ store, storeTimeout, gcInterval: 0 });
        try {
          const warm = await manager.load();
          warm.set("user", "ada");
          await manager.commit(warm); // the server now holds the write script
          await link.down();
          while (client.isReady) await sleep(10); // the client noticed: the write goes to its offline queue
          const session = await manager.load();
          session.set("user", "ghost");
          const { error, ms } = await timedRejection(manager.commit(session));
          expect(error).toBeInstanceOf(SessionStoreError);
          expect(ms).toBeLessThan(2000);
          await link.up();
          await eventually(() => client.ping());
          await sleep(200); // time for a queued write to arrive
          expect(await store.get(hashToken(session.id))).toBeNull();
        } finally {
          await manager.close();
          await client.close();
          await link.down();
        }
      });
    }

    register("a write whose signal aborted while Redis was down never lands after the reconnect", async () => {
      const store = new RedisStore({ client: connection.client });
      const write = { data: "late", expiresAt: Date.now() + 60_000, version: 1, expectedVersion: 0 };
      await server.kill();
      const { error } = await timedRejection(Promise.resolve(store.set("ghost", write, { signal: AbortSignal.timeout(200) })));
      expect((error as Error).message).toMatch(/aborted/);
      await server.start();
      await eventually(() => Promise.resolve(store.get("anything")));
      expect(await store.get("ghost")).toBeNull();
    });

    register("a commit that hit storeTimeout while Redis was down never lands after the reconnect", async () => {
      const store = new RedisStore({ client: connection.client });
      const manager = new SessionManager({ store, storeTimeout: "300ms", gcInterval: 0 });
      await server.kill();
      const session = await manager.load(); // a new session: no store read
      session.set("user", "ghost");
      await expect(manager.commit(session)).rejects.toBeInstanceOf(SessionStoreError);
      await server.start();
      await eventually(() => Promise.resolve(store.get("anything")));
      await new Promise((resolve) => setTimeout(resolve, 200)); // time for a queued write to arrive
      expect(await store.get(hashToken(session.id))).toBeNull();
      await manager.close();
    });
  }

  register("an Express app answers 5xx while Redis is down and 2xx once it is back", async () => {
    const app = express();
    app.use(sessionMiddleware(sessions));
    app.get("/", (req, res) => {
      const visits = Number(req.session.get("visits") ?? 0) + 1;
      req.session.set("visits", visits);
      res.json({ visits });
    });
    app.use((error: { code?: string }, _req: Request, res: Response, _next: NextFunction) => {
      res.status(503).json({ error: error.code });
    });
    const listener = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => listener.once("listening", resolve));
    const url = `http://127.0.0.1:${(listener.address() as AddressInfo).port}/`;
    try {
      const first = await fetch(url);
      expect(first.status).toBe(200);
      const cookie = first.headers.get("set-cookie")!.split(";")[0]!;
      expect(await (await fetch(url, { headers: { cookie } })).json()).toEqual({ visits: 2 });

      await server.kill();
      const down = await fetch(url, { headers: { cookie } });
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ error: "ERR_SESSION_STORE" });
      const downNew = await fetch(url); // no cookie: load is free, the commit fails
      expect(downNew.status).toBe(503);

      await server.start();
      const back = await eventually(async () => {
        const response = await fetch(url);
        if (response.status !== 200) throw new Error(`status ${response.status}`);
        return response;
      });
      expect(await back.json()).toEqual({ visits: 1 });
    } finally {
      await new Promise((resolve) => listener.close(resolve));
    }
  });

  register("nothing acknowledged is lost when the store's connection is cut (CLIENT KILL)", async () => {
    // The previous case restarted the server: wait until the client is back before measuring.
    const before = await eventually(async () => {
      const first = await sessions.load();
      first.set("user", "ada");
      return tokenOf(await sessions.commit(first));
    });

    const admin = new Redis(server.url);
    try {
      const id = await connection.connectionId();
      const commit = async (i: number) => {
        const session = await sessions.load();
        session.set("n", i);
        return { i, token: tokenOf(await sessions.commit(session)) };
      };
      // Ten acknowledged before the cut, ten in flight while it happens (on a busy machine any
      // of those may fail: each must then be a SessionStoreError, never a false success).
      const early = await Promise.all(Array.from({ length: 10 }, (_, i) => commit(i)));
      // Settled handlers attach at once: a commit the cut rejects before KILL returns is then never
      // an unhandled rejection.
      const inFlight = Promise.allSettled(Array.from({ length: 10 }, (_, i) => commit(10 + i)));
      await admin.client("KILL", "ID", String(id));
      const results = await inFlight;
      const acknowledged = [...early, ...results.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []))];
      for (const result of results) if (result.status === "rejected") expect(result.reason).toBeInstanceOf(SessionStoreError);

      await eventually(async () => (await connection.connectionId()) !== id || Promise.reject(new Error("not reconnected")));
      expect((await sessions.load(before)).get("user")).toBe("ada");
      for (const { i, token } of acknowledged) expect((await sessions.load(token)).get("n")).toBe(i);
      console.info(`[faults ${driver.name}] CLIENT KILL during 20 commits: ${acknowledged.length} acknowledged, all readable after reconnect`);
      expect(acknowledged.length).toBeGreaterThanOrEqual(10);
    } finally {
      admin.disconnect();
    }
  });
});

describe("RedisStore through Valkey GLIDE when its server restarts", () => {
  const register = redisServerInstalled ? it : it.skip;

  register("a server without the scripts (new, or restarted) answers NoScriptError, and the store sends EVAL instead", async () => {
    Logger.setLoggerConfig("error"); // GLIDE's core would log each NoScriptError and reconnect attempt as a warning
    const server = new PrivateRedis(await freePort());
    await server.start();
    const client = await GlideClient.createClient({ addresses: [{ host: "127.0.0.1", port: server.port }], requestTimeout: 1000 });
    try {
      const store = new RedisStore({ client });
      const write = (expectedVersion: number) => ({ data: `v${expectedVersion + 1}`, expiresAt: Date.now() + 60_000, version: expectedVersion + 1, expectedVersion });
      expect(await store.set("k", write(0))).toBe(true); // a new server has never seen the script
      expect(await store.set("k", write(1))).toBe(true);
      await server.kill();
      await server.start(); // no persistence: data and script cache are gone
      expect(await eventually(() => store.set("k", write(0)))).toBe(true);
      expect((await store.get("k"))?.data).toBe("v1");
    } finally {
      client.close();
      await server.kill();
    }
  });
});

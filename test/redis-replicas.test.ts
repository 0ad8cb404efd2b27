/**
 * RedisStore on replicated Redis: a private Sentinel setup (.ci/redis-sentinel.sh on spare ports:
 * one master, one replica, three sentinels), reached through node-redis's and ioredis's Sentinel
 * clients, with `waitReplicas`. The shared servers are never touched.
 */
import { randomBytes } from "node:crypto";
import { execFile, spawnSync } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { createSentinel } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrivateSentinel } from "../bench/chaos/servers.js";
import { SessionStoreError } from "../src/core/errors.js";
import { SessionManager } from "../src/index.js";
import type { RedisClientLike } from "../src/stores/redis.js";
import { RedisStore } from "../src/stores/redis.js";
import { storeConformance } from "../src/testing/index.js";
import "../src/providers/index.js"; // the `provider:` option resolves through the registry

const installed = spawnSync("redis-sentinel", ["--version"]).status === 0;
if (!installed) {
  if (process.env.CI === "true") throw new Error("redis-sentinel is not installed (CI=true: a missing server fails the run)");
  console.warn("\n!!! SKIPPING the Redis Sentinel tests: redis-sentinel is not installed (apt-get install redis-sentinel).\n");
}

const servers = new PrivateSentinel();
const clients: { close: () => Promise<unknown> }[] = [];
const started = installed ? servers.start() : Promise.resolve();
started.catch(() => {}); // reported by the first test that awaits it

interface Kind {
  name: string;
  connect: () => Promise<RedisClientLike>;
}

const kinds: Kind[] = [
  {
    name: "node-redis createSentinel",
    connect: async () => {
      await started;
      const client = createSentinel({ name: "mymaster", sentinelRootNodes: servers.sentinels });
      client.on("error", () => {});
      await client.connect();
      clients.push(client);
      return client;
    },
  },
  {
    name: "ioredis with sentinels",
    connect: async () => {
      await started;
      const client = new Redis({ sentinels: servers.sentinels, name: "mymaster" });
      client.on("error", () => {});
      clients.push({ close: () => client.quit() });
      return client;
    },
  },
];

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.close()));
  await servers.stop();
});

const LONG = 3_600_000;
const write = (data: string, expectedVersion = 0) => ({ data, expiresAt: Date.now() + LONG, version: expectedVersion + 1, expectedVersion });
const prefix = () => `ha-${randomBytes(4).toString("hex")}:`;

for (const kind of kinds) {
  if (installed) {
    await storeConformance(`RedisStore via ${kind.name}, waitReplicas 1`, async () => new RedisStore({ client: await kind.connect(), prefix: prefix(), waitReplicas: 1, waitTimeout: "1s" }), { test: it });
  }

  describe.skipIf(!installed)(`waitReplicas through ${kind.name}`, () => {
    let client: RedisClientLike;
    beforeAll(async () => {
      client = await kind.connect();
    });

    it("a write the replica acknowledges commits, and reads back from the master", async () => {
      const sessions = new SessionManager({ store: new RedisStore({ client, prefix: prefix(), waitReplicas: 1, waitTimeout: "1s" }), gcInterval: 0 });
      const session = await sessions.load();
      session.set("user", "ada");
      const [cookie] = await sessions.commit(session);
      const token = /^sid=([^;]*)/.exec(cookie!)![1]!;
      expect((await sessions.load(token)).get("user")).toBe("ada");
    });

    it('fewer replicas than waitReplicas within waitTimeout: the commit fails with outcome "unknown", never as a success', async () => {
      // Two replicas asked for, one exists: WAIT answers 1 after waitTimeout.
      const sessions = new SessionManager({ store: new RedisStore({ client, prefix: prefix(), waitReplicas: 2, waitTimeout: "30ms" }), gcInterval: 0 });
      const session = await sessions.load();
      session.set("user", "ada");
      const error: unknown = await sessions.commit(session).catch((reason: unknown) => reason);
      expect(error).toBeInstanceOf(SessionStoreError);
      expect(error).toMatchObject({ code: "ERR_SESSION_STORE", outcome: "unknown" });
      expect((error as Error).message).toBe("Redis WAIT: 1 of 2 replicas acknowledged the write within 30 ms; it may or may not survive a failover");
    });

    it('a destroy (logout) waits too: fewer replicas fail it with outcome "unknown", as a lost destroy would bring the session back', async () => {
      const keys = prefix();
      const writer = new RedisStore({ client, prefix: keys, waitReplicas: 1, waitTimeout: "1s" });
      await writer.set("k", write("a"));
      const strict = new RedisStore({ client, prefix: keys, waitReplicas: 2, waitTimeout: "30ms" });
      const error: unknown = await strict.destroy("k").catch((reason: unknown) => reason);
      expect(error).toBeInstanceOf(SessionStoreError);
      expect(error).toMatchObject({ outcome: "unknown" });
      await expect(writer.destroy("k")).resolves.toBeUndefined(); // one replica asked, one answers
      expect(await writer.get("k")).toBeNull();
    });

    it("a compare-and-set conflict is still false (not applied), without waiting for an outcome", async () => {
      const store = new RedisStore({ client, prefix: prefix(), waitReplicas: 2, waitTimeout: "30ms" });
      await expect(store.set("k", write("a", 5))).resolves.toBe(false);
      expect(await store.get("k")).toBeNull();
    });
  });
}

describe.skipIf(!installed)('provider "redis" with the sentinel:// form', () => {
  it("finds the master through the sentinels, waits for its replica, and closes the client it made", async () => {
    await started;
    const hosts = servers.sentinels.map(({ host, port }) => `${host}:${port}`).join(",");
    const sessions = new SessionManager({ provider: "redis", providerConfig: `sentinel://${hosts}/mymaster?waitReplicas=1&waitTimeout=1s`, gcInterval: 0 });
    try {
      const session = await sessions.load();
      session.set("user", "ada");
      const token = /^sid=([^;]*)/.exec((await sessions.commit(session))[0]!)![1]!;
      expect((await sessions.load(token)).get("user")).toBe("ada");
    } finally {
      await sessions.close();
    }
  });

  it("waitReplicas from the string is the store's: two replicas asked, one exists, the commit's outcome is unknown", async () => {
    await started;
    const sessions = new SessionManager({ provider: "redis", providerConfig: `sentinel://127.0.0.1:${servers.sentinels[0]!.port}/mymaster?waitReplicas=2&waitTimeout=20ms`, gcInterval: 0 });
    try {
      const session = await sessions.load();
      session.set("user", "ada");
      await expect(sessions.commit(session)).rejects.toMatchObject({ code: "ERR_SESSION_STORE", outcome: "unknown" });
    } finally {
      await sessions.close();
    }
  });
});

describe.skipIf(!installed)("the sessionkit CLI with --store sentinel://", () => {
  // The built binary, as an operator runs it (npm test builds dist/ first).
  const BIN = join(import.meta.dirname, "..", "dist", "cli", "main.js");
  const run = (args: string[]) => promisify(execFile)(process.execPath, [BIN, ...args], { env: { ...process.env, SESSION_STORE: "" } });

  it("finds the master through the sentinels: count, list and revoke see what the app wrote", async () => {
    await started;
    const keyPrefix = prefix();
    const client = await kinds[0]!.connect();
    const sessions = new SessionManager({ store: new RedisStore({ client, prefix: keyPrefix }), gcInterval: 0 });
    for (const user of ["ada", "ada", "bob"]) {
      const session = await sessions.load();
      await session.signIn(user);
      await sessions.commit(session);
    }
    const store = ["--store", `sentinel://${servers.sentinels.map(({ host, port }) => `${host}:${port}`).join(",")}/mymaster`, "--prefix", keyPrefix];
    expect(await run(["count", ...store])).toMatchObject({ stdout: "3 live sessions\n", stderr: "" });
    expect(await run(["revoke", ...store, "--user", "ada"])).toMatchObject({ stdout: 'revoked 2 sessions of user "ada"\n' });
    expect(await sessions.listSessions("ada")).toEqual([]);
    expect(await sessions.listSessions("bob")).toHaveLength(1);
  });

  it("no sentinel answering is one line on stderr and exit code 1, not a hang", async () => {
    const failure = await run(["count", "--store", "sentinel://127.0.0.1:1/mymaster"]).catch((error: unknown) => error as { code: number; stderr: string });
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});

describe("waitReplicas options", () => {
  const client = { sendCommand: async () => null };
  it.each([
    [{ waitReplicas: -1 }, 'option "waitReplicas" must be a whole number >= 0; got -1'],
    [{ waitReplicas: 1.5 }, 'option "waitReplicas" must be a whole number >= 0; got 1.5'],
    [{ waitReplicas: 1, waitTimeout: 0 }, 'option "waitTimeout" must be above 0 when "waitReplicas" is set (WAIT 0 blocks forever)'],
    [{ waitReplicas: 1, waitTimeout: "soon" }, /option "waitTimeout" must be a non-negative number of milliseconds/],
  ])("%o is a TypeError naming the option", (options, message) => {
    expect(() => new RedisStore({ client, ...options })).toThrow(message instanceof RegExp ? message : new TypeError(message));
  });
});

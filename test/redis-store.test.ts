/**
 * RedisStore against real servers: the shared Redis at REDIS_URL and the 3-master cluster of
 * .ci/redis-cluster.sh at REDIS_CLUSTER_NODES, through node-redis, ioredis, iovalkey and Valkey GLIDE alike.
 * Round trips are counted with MONITOR, keeping only commands that name this case's keys.
 */
import { randomBytes } from "node:crypto";
import { GlideClient, GlideClusterClient, Logger } from "@valkey/valkey-glide";
import { Cluster, Redis } from "ioredis";
import { Cluster as ValkeyCluster, Redis as Valkey } from "iovalkey";
import { createClient, createCluster } from "redis";
import { afterAll, describe, expect, it } from "vitest";
import { SessionManager } from "../src/core/manager.js";
import { PENDING_GRACE_MS } from "../src/core/store.js";
import type { RedisClientLike } from "../src/stores/redis.js";
import { RedisStore } from "../src/stores/redis.js";
import { storeConformance } from "../src/testing/index.js";
import { movingClock } from "./support/clock.js";
import { REDIS_CLUSTER_NODES, REDIS_URL, serverAvailable } from "./support/servers.js";

Logger.setLoggerConfig("error"); // GLIDE's core would log a warning for each NOSCRIPT the store answers with EVAL

const standaloneUp = await serverAvailable("Redis", "REDIS_URL", REDIS_URL);
const clusterUp = await serverAvailable("Redis Cluster", "REDIS_CLUSTER_NODES", REDIS_CLUSTER_NODES.split(",")[0]!);
const clusterNodes = REDIS_CLUSTER_NODES.split(",").map((address) => {
  const [host, port] = address.split(":");
  return { host: host!, port: Number(port) };
});
const standaloneAddress = (() => {
  const url = new URL(REDIS_URL);
  return { host: url.hostname, port: Number(url.port || 6379) };
})();

interface Kind {
  name: string;
  up: boolean;
  /** Where the keys live: every master, for MONITOR and cleanup. */
  nodes: { host: string; port: number }[];
  connect: () => Promise<{ client: RedisClientLike; close: () => Promise<unknown> }>;
}

const kinds: Kind[] = [
  {
    name: "node-redis",
    up: standaloneUp,
    nodes: [standaloneAddress],
    connect: async () => {
      const client = createClient({ url: REDIS_URL });
      client.on("error", () => {}); // node-redis throws an unhandled 'error' event otherwise
      await client.connect();
      return { client, close: () => client.close() };
    },
  },
  {
    name: "ioredis",
    up: standaloneUp,
    nodes: [standaloneAddress],
    connect: async () => {
      const client = new Redis(REDIS_URL);
      await ready(client);
      return { client, close: () => client.quit() };
    },
  },
  {
    name: "node-redis cluster",
    up: clusterUp,
    nodes: clusterNodes,
    connect: async () => {
      const client = createCluster({ rootNodes: clusterNodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })) });
      client.on("error", () => {});
      await client.connect();
      return { client, close: () => client.close() };
    },
  },
  {
    name: "ioredis cluster",
    up: clusterUp,
    nodes: clusterNodes,
    connect: async () => {
      const client = new Cluster(clusterNodes);
      await ready(client);
      return { client, close: () => client.quit() };
    },
  },
  // Valkey's clients, against the same Redis servers: no valkey-server is installed here, and
  // Valkey speaks the same protocol (docs/stores/redis.md).
  {
    name: "iovalkey",
    up: standaloneUp,
    nodes: [standaloneAddress],
    connect: async () => {
      const client = new Valkey(REDIS_URL);
      await ready(client);
      return { client, close: () => client.quit() };
    },
  },
  {
    name: "iovalkey cluster",
    up: clusterUp,
    nodes: clusterNodes,
    connect: async () => {
      const client = new ValkeyCluster(clusterNodes);
      await ready(client);
      return { client, close: () => client.quit() };
    },
  },
  {
    name: "valkey-glide",
    up: standaloneUp,
    nodes: [standaloneAddress],
    connect: async () => {
      const client = await GlideClient.createClient({ addresses: [standaloneAddress] });
      return { client, close: async () => client.close() };
    },
  },
  {
    name: "valkey-glide cluster",
    up: clusterUp,
    nodes: clusterNodes,
    connect: async () => {
      const client = await GlideClusterClient.createClient({ addresses: clusterNodes });
      return { client, close: async () => client.close() };
    },
  },
];

function ready(client: { once(event: string, listener: (error?: unknown) => void): unknown }): Promise<void> {
  return new Promise((resolve, reject) => {
    client.once("ready", () => resolve());
    client.once("error", reject);
  });
}

/** One connected client per kind, shared by its cases (each case has its own prefix). */
const shared = new Map<string, Promise<{ client: RedisClientLike; close: () => Promise<unknown> }>>();
const connection = (kind: Kind) => {
  if (!shared.has(kind.name)) shared.set(kind.name, kind.connect());
  return shared.get(kind.name)!;
};
afterAll(async () => {
  for (const pending of shared.values()) await (await pending).close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const randomPrefix = (name: string) => `sktest:${name.replace(/\W/g, "")}:${randomBytes(6).toString("hex")}:`;

/** Deletes every key under `prefix` on every node, one key per DEL so cluster slots never mix. */
async function deleteKeys(nodes: Kind["nodes"], prefix: string): Promise<number> {
  let deleted = 0;
  for (const node of nodes) {
    const direct = new Redis({ ...node, lazyConnect: false });
    try {
      for await (const keys of direct.scanStream({ match: `${prefix}*`, count: 1000 })) {
        for (const key of keys as string[]) deleted += await direct.del(key);
      }
    } finally {
      await direct.quit();
    }
  }
  return deleted;
}

for (const kind of kinds) {
  const register = kind.up ? it : it.skip;
  const prefixes = new WeakMap<RedisStore, string>();
  await storeConformance(
    `RedisStore (${kind.name})`,
    async () => {
      const prefix = randomPrefix(kind.name);
      const store = new RedisStore({ client: (await connection(kind)).client, prefix });
      prefixes.set(store, prefix);
      return store;
    },
    {
      test: register,
      cleanup: async (store) => {
        await store.close?.(); // must leave the shared client open: the next case uses it
        await deleteKeys(kind.nodes, prefixes.get(store as RedisStore)!);
      },
    },
  );
}

/**
 * A connection in MONITOR mode. ioredis marks it as monitoring one microtask after MONITOR's OK,
 * so a line that arrives in the same TCP read as the OK (another client's INFO or CLUSTER SLOTS)
 * is taken for a reply to no command: "Command queue state error", emitted as an error. Such a
 * line was sent before this function returns, so before any step a test measures: that error is
 * dropped; any other error fails the run as before.
 */
async function openMonitor(node: Kind["nodes"][number]): Promise<Redis> {
  const monitor = new Redis({ ...node, monitor: true, lazyConnect: true });
  let started = false;
  monitor.on("error", (error: Error) => {
    if (started || !error.message.startsWith("Command queue state error")) throw error;
  });
  const monitoring = new Promise<void>((resolve) =>
    monitor.once("monitoring", () => {
      started = true;
      resolve();
    }),
  );
  await monitor.connect();
  await monitoring;
  return monitor;
}

/** Collects, per MONITORed node, the commands naming `prefix` that clients (not Lua) sent. */
async function monitorCommands(nodes: Kind["nodes"], prefix: string) {
  let seen: string[][] = [];
  let seenWhere: string[] = [];
  let marker = 0;
  const markerSeen = new Map<string, () => void>();
  const monitors = await Promise.all(
    nodes.map(async (node) => {
      const monitor = await openMonitor(node);
      monitor.on("monitor", (_time: string, args: string[], source: string) => {
        if (args[0]?.toLowerCase() === "echo") markerSeen.get(args[1] ?? "")?.();
        else if (source !== "lua" && args.some((arg) => arg.startsWith(prefix))) {
          seen.push(args);
          seenWhere.push(`${node.port}`);
        }
      });
      return monitor;
    }),
  );
  const pingers = nodes.map((node) => new Redis(node));
  let lastWhere: string[] = [];
  return {
    /** The commands since the last call; waits until every monitor has caught up. */
    async take(): Promise<string[][]> {
      await Promise.all(
        pingers.map(async (pinger) => {
          const text = `${prefix}marker${marker++}`;
          const arrived = new Promise<void>((resolve) => markerSeen.set(text, resolve));
          await pinger.echo(text);
          await arrived;
        }),
      );
      const taken = seen;
      lastWhere = seenWhere;
      seen = [];
      seenWhere = [];
      return taken;
    },
    /** The port of the node each command of the last take() ran on. */
    where: () => lastWhere,
    async close() {
      for (const client of [...monitors, ...pingers]) client.disconnect();
    },
  };
}

const names = (commands: string[][]) => commands.map((args) => args[0]!.toUpperCase());

/**
 * The commands of one step, compared with `expected`. On a mismatch the message also gives each
 * command's node and script, and each node's uptime and cached script count: a NOSCRIPT fallback
 * (EVALSHA, then EVAL) then tells whether a node restarted or lost its scripts.
 */
async function expectCommands(monitor: Awaited<ReturnType<typeof monitorCommands>>, nodes: Kind["nodes"], expected: string[], step: string): Promise<void> {
  const commands = await monitor.take();
  if (JSON.stringify(names(commands)) === JSON.stringify(expected)) return;
  const where = monitor.where();
  const sent = commands.map((args, i) => `${args[0]} ${args[0]!.toUpperCase() === "EVAL" ? "<script>" : (args[1] ?? "")} on ${where[i]}`);
  const state = await Promise.all(
    nodes.map(async (node) => {
      const direct = new Redis(node);
      try {
        const info = await direct.info();
        const field = (name: string) => new RegExp(`^${name}:(.*)$`, "m").exec(info)?.[1]?.trim();
        return `${node.port}: up ${field("uptime_in_seconds")} s, ${field("number_of_cached_scripts")} scripts`;
      } finally {
        direct.disconnect();
      }
    }),
  );
  expect(names(commands), `${step}: ${sent.join("; ")} | ${state.join("; ")}`).toEqual(expected);
}

/**
 * Runs every script of the store once on every master, so that no call under MONITOR meets a
 * master that has not seen a script yet (NOSCRIPT, then EVAL: correct, but a second command).
 * In a Cluster a key is picked per master by asking Redis for its slot.
 */
async function warmScripts(kind: Kind, store: RedisStore, prefix: string): Promise<void> {
  const keysPerMaster = await oneKeyPerMaster(kind, prefix);
  for (const key of keysPerMaster) {
    await store.indexOwner(key, key, Date.now() + 60_000); // the owner's index lands in the same slot as the key
    await store.set(key, { data: "warm", expiresAt: Date.now() + 60_000, version: 1, expectedVersion: 0, owner: key });
    await store.touch(key, Date.now() + 120_000);
    await store.listByOwner(key);
  }
  await deleteKeys(kind.nodes, prefix);
}

/** Keys (of the store contract's alphabet) such that `${prefix}${key}` and `{key}` sit on each master in turn. */
async function oneKeyPerMaster(kind: Kind, prefix: string): Promise<string[]> {
  const raw = new Redis(kind.nodes[0]!);
  try {
    if (kind.nodes.length === 1) return ["warm"];
    const ranges = await raw.cluster("SLOTS");
    const masterOf = (slot: number) => ranges.findIndex(([start, end]) => slot >= start && slot <= end);
    const found = new Map<number, string>();
    for (let i = 0; found.size < ranges.length && i < 10_000; i++) {
      const key = `warm${i}`;
      const [recordSlot, indexSlot] = (await Promise.all([raw.cluster("KEYSLOT", `${prefix}${key}`), raw.cluster("KEYSLOT", `{${key}}`)])) as number[];
      if (masterOf(recordSlot!) === masterOf(indexSlot!) && !found.has(masterOf(recordSlot!))) found.set(masterOf(recordSlot!), key);
    }
    return [...found.values()];
  } finally {
    raw.disconnect();
  }
}

describe.each(kinds)("RedisStore round trips ($name)", (kind) => {
  const register = kind.up ? it : it.skip;

  register("one round trip to load, one to commit, none for an unmodified session inside touchInterval", async () => {
    const prefix = randomPrefix(kind.name);
    const store = new RedisStore({ client: (await connection(kind)).client, prefix });
    let now = Date.now();
    const sessions = new SessionManager({ store, touchInterval: "1m", gcInterval: 0, now: () => now });
    await warmScripts(kind, store, prefix);
    const monitor = await monitorCommands(kind.nodes, prefix);
    try {
      const fresh = await sessions.load();
      fresh.set("user", "ada");
      const token = /^sid=([^;]*)/.exec((await sessions.commit(fresh))[0]!)![1]!;
      await expectCommands(monitor, kind.nodes, ["EVALSHA"], "first commit");

      const loaded = await sessions.load(token);
      await expectCommands(monitor, kind.nodes, ["HMGET"], "load");
      loaded.set("visits", 1);
      await sessions.commit(loaded);
      await expectCommands(monitor, kind.nodes, ["EVALSHA"], "commit");

      const unmodified = await sessions.load(token);
      await expectCommands(monitor, kind.nodes, ["HMGET"], "load only");
      expect(await sessions.commit(unmodified)).toEqual([]);
      await expectCommands(monitor, kind.nodes, [], "unmodified commit");

      now += 2 * 60_000; // past touchInterval: the commit moves the expiry, one script call
      const idle = await sessions.load(token);
      await monitor.take();
      await sessions.commit(idle);
      await expectCommands(monitor, kind.nodes, ["EVALSHA"], "touch");
      expect((await sessions.load(token)).get("visits")).toBe(1);
      await monitor.take();

      const anonymous = await sessions.load();
      await sessions.commit(anonymous);
      expect(await monitor.take(), "a new, untouched session costs nothing").toEqual([]);
      console.info(`[round trips ${kind.name}] first commit: 1 EVALSHA; load: 1 HMGET; commit: 1 EVALSHA; unmodified: 0; touch: 1 EVALSHA`);
    } finally {
      await monitor.close();
      await sessions.close();
      await deleteKeys(kind.nodes, prefix);
    }
  });

  register("one session is one hash with a native expiry, under the prefix", async () => {
    const prefix = randomPrefix(kind.name);
    const store = new RedisStore({ client: (await connection(kind)).client, prefix });
    const expiresAt = Date.now() + 60_000;
    await store.set("abc", { data: "payload", expiresAt, version: 1, expectedVersion: 0 });
    const { client: raw, close } = await rawClientFor(kind);
    try {
      expect(await raw.hgetall(`${prefix}abc`)).toEqual({ d: "payload", e: String(expiresAt), v: "1" });
      await store.set("abc", { data: "mine", expiresAt, version: 2, expectedVersion: 1, owner: "alice" });
      expect(await raw.hgetall(`${prefix}abc`)).toEqual({ d: "mine", e: String(expiresAt), v: "2", o: "alice" });
      expect(await raw.pexpiretime(`${prefix}abc`)).toBe(expiresAt);
    } finally {
      await close();
      await deleteKeys(kind.nodes, prefix);
    }
  });

  register("an owner's sessions: the owner rides in the record write, listByOwner is one HGETALL plus one HMGET per entry", async () => {
    const prefix = randomPrefix(kind.name);
    const store = new RedisStore({ client: (await connection(kind)).client, prefix });
    await warmScripts(kind, store, prefix);
    const monitor = await monitorCommands(kind.nodes, prefix);
    const expiresAt = Date.now() + 60_000;
    try {
      await store.indexOwner("alice", "s1", expiresAt);
      await store.set("s1", { data: "x", expiresAt, version: 1, expectedVersion: 0, owner: "alice" });
      expect(names(await monitor.take()), "sign-in: the index entry, then the record").toEqual(["EVALSHA", "EVALSHA"]);
      await store.set("s1", { data: "y", expiresAt, version: 2, expectedVersion: 1, owner: "alice" });
      expect(names(await monitor.take()), "a signed-in commit costs what an anonymous one does").toEqual(["EVALSHA"]);
      await store.indexOwner("alice", "s2", expiresAt);
      await store.set("s2", { data: "x", expiresAt, version: 1, expectedVersion: 0, owner: "alice" });
      await monitor.take();
      expect((await store.listByOwner("alice")).map((entry) => entry.key).sort()).toEqual(["s1", "s2"]);
      expect(names(await monitor.take()).sort()).toEqual(["HGETALL", "HMGET", "HMGET"]);
    } finally {
      await monitor.close();
      await deleteKeys(kind.nodes, prefix);
    }
  });

  register("the owner index is one hash-tagged key that outlives its entries, keeps entries of records not yet written for a minute, and is not counted", async () => {
    const prefix = randomPrefix(kind.name);
    const store = new RedisStore({ client: (await connection(kind)).client, prefix });
    const { client: raw, close } = await rawClientFor(kind);
    const indexKey = `${prefix}owner:{alice}`;
    const keepUntil = Date.now() + 120_000;
    const owned = (owner: string) => ({ data: "x", expiresAt: Date.now() + 60_000, version: 1, expectedVersion: 0, owner });
    try {
      await store.indexOwner("alice", "live", keepUntil);
      await store.set("live", owned("alice"));
      await store.indexOwner("alice", "live", keepUntil - 60_000); // an earlier keepUntil never shortens the entry
      await store.indexOwner("alice", "in-flight", keepUntil); // its record is being written: must survive listing
      await store.indexOwner("alice", "foreign", keepUntil);
      await store.set("foreign", owned("bob"));
      await raw.hset(indexKey, "past", `${Date.now() - 1}:${Date.now() - 120_000}`); // keepUntil passed, record gone
      // Its sign-in was killed between the index write and the record, more than a minute ago.
      await raw.hset(indexKey, "crashed", `${keepUntil}:${Date.now() - PENDING_GRACE_MS - 1000}`);
      expect(await raw.pexpiretime(indexKey)).toBeGreaterThanOrEqual(keepUntil);
      expect(Number((await raw.hget(indexKey, "live"))!.split(":")[0])).toBe(keepUntil);
      if (kind.nodes.length > 1) expect(await raw.cluster("KEYSLOT", indexKey)).toBe(await raw.cluster("KEYSLOT", "alice"));

      expect((await store.listByOwner("alice")).map((entry) => entry.key)).toEqual(["live"]);
      expect(Object.keys(await raw.hgetall(indexKey)).sort(), "a missing record's entry stays for a minute, not after").toEqual(["in-flight", "live"]);
      expect(await store.count()).toBe(2);

      await store.indexOwner("alice", "short", Date.now() + 50); // entries past their keepUntil go at the next indexOwner too
      await sleep(100);
      await store.indexOwner("alice", "later", keepUntil);
      expect(Object.keys(await raw.hgetall(indexKey)).sort()).toEqual(["in-flight", "later", "live"]);
    } finally {
      await close();
      await deleteKeys(kind.nodes, prefix);
    }
  });

  register("a sign-in sweeps a bounded slice of a large owner index for stale entries; successive sign-ins sweep all of it", async () => {
    const prefix = randomPrefix(kind.name);
    const store = new RedisStore({ client: (await connection(kind)).client, prefix });
    const { client: raw, close } = await rawClientFor(kind);
    const indexKey = `${prefix}owner:{alice}`;
    const keepUntil = Date.now() + 120_000;
    try {
      // 1,000 entries whose keepUntil has passed (records long gone), beyond Redis's small-hash encoding.
      const stale: string[] = [];
      for (let i = 0; i < 1_000; i++) stale.push(`old${i}`, `${Date.now() - 1}:${Date.now() - 120_000}`);
      await raw.hset(indexKey, ...stale);
      await store.indexOwner("alice", "first", keepUntil);
      expect(await raw.hlen(indexKey), "one sign-in looks at a slice, not at 1,000 entries").toBeGreaterThan(900);
      for (let i = 0; i < 200; i++) await store.indexOwner("alice", `s${i}`, keepUntil);
      expect(Object.keys(await raw.hgetall(indexKey)).filter((key) => key.startsWith("old")), "200 sign-ins later every stale entry is gone").toEqual([]);
      expect((await store.listByOwner("alice")).map(({ key }) => key), "the sweep's cursor (field \"\" of the index) is never listed").toEqual([]);
      expect(Object.keys(await raw.hgetall(indexKey)).filter((key) => key !== "")).toHaveLength(201);
      expect(await store.count(), "the index is not counted as a session").toBe(0);
    } finally {
      await close();
      await deleteKeys(kind.nodes, prefix);
    }
  });

  register("the owner index holds only live sessions: logout, rotation, revocation and eviction remove their entries", async () => {
    const prefix = randomPrefix(kind.name);
    const store = new RedisStore({ client: (await connection(kind)).client, prefix });
    const { client: raw, close } = await rawClientFor(kind);
    // Four sign-ins in one millisecond would tie, and the 4th could then evict any of them, not the 1st.
    const sessions = new SessionManager({ store, gcInterval: 0, maxSessionsPerUser: 3, now: movingClock() });
    const tokenOf = (cookies: string[]) => /^sid=([^;]*)/.exec(cookies[0]!)![1]!;
    const signedIn = async () => {
      const session = await sessions.load();
      await session.signIn("alice");
      return tokenOf(await sessions.commit(session));
    };
    try {
      const tokens = [await signedIn(), await signedIn(), await signedIn(), await signedIn()]; // the 4th evicts the 1st
      const logout = await sessions.load(tokens[1]);
      await logout.destroy();
      await sessions.commit(logout);
      const rotated = await sessions.load(tokens[2]);
      await rotated.regenerate();
      await sessions.commit(rotated);
      const live = await sessions.listSessions("alice");
      expect(live).toHaveLength(2);
      const [indexKey] = await scanMasters(raw, `${prefix}owner:*`);
      expect(await raw.hlen(indexKey!), "one entry per live session, none for the evicted, logged-out or rotated ids").toBe(2);
      await sessions.revokeSession("alice", live[0]!.handle);
      expect(await raw.hlen(indexKey!)).toBe(1);
    } finally {
      await close();
      await deleteKeys(kind.nodes, prefix);
    }
  });

  register("count() sees every master and only its own prefix", async () => {
    const prefix = randomPrefix(kind.name);
    const other = new RedisStore({ client: (await connection(kind)).client, prefix: `${prefix}other*` });
    const store = new RedisStore({ client: (await connection(kind)).client, prefix });
    const write = { data: "x", expiresAt: Date.now() + 60_000, version: 1, expectedVersion: 0 };
    try {
      await Promise.all(Array.from({ length: 60 }, (_, i) => store.set(`key-${i}`, write)));
      await other.set("not-mine", write);
      // `other`'s prefix starts with ours, so ours counts it; the glob "*" in its own prefix must not match ours.
      expect(await store.count()).toBe(61);
      expect(await other.count()).toBe(1);
    } finally {
      await deleteKeys(kind.nodes, prefix);
    }
  });
});

/** KEYS on every master of a Cluster (a Cluster client's KEYS reaches one node only). */
async function scanMasters(raw: Redis | Cluster, pattern: string): Promise<string[]> {
  if (!(raw instanceof Cluster)) return raw.keys(pattern);
  const found = await Promise.all(raw.nodes("master").map((node) => node.keys(pattern)));
  return found.flat();
}

/** A plain ioredis view of where the store writes, to inspect raw keys. */
async function rawClientFor(kind: Kind): Promise<{ client: Redis | Cluster; close: () => Promise<unknown> }> {
  const client = kind.nodes.length > 1 ? new Cluster(kind.nodes) : new Redis(kind.nodes[0]!);
  await ready(client);
  return { client, close: () => client.quit() };
}

describe("RedisStore options", () => {
  it("rejects what is not a Redis client, naming the option", () => {
    expect(() => new RedisStore({ client: {} as RedisClientLike })).toThrow(/option "client" must be a node-redis client/);
    expect(() => new RedisStore({ client: { call: () => Promise.resolve(0), quit: () => Promise.resolve() }, prefix: 3 as unknown as string })).toThrow(
      /option "prefix" must be a string/,
    );
  });

  (standaloneUp ? it : it.skip)("close() quits the client only when ownsClient is true", async () => {
    const borrowed = createClient({ url: REDIS_URL });
    borrowed.on("error", () => {});
    await borrowed.connect();
    await new RedisStore({ client: borrowed }).close();
    expect(borrowed.isOpen).toBe(true);
    await new RedisStore({ client: borrowed, ownsClient: true }).close();
    expect(borrowed.isOpen).toBe(false);

    const owned = new Redis(REDIS_URL);
    await ready(owned);
    const ended = new Promise((resolve) => owned.once("end", resolve));
    await new RedisStore({ client: owned, ownsClient: true }).close();
    await ended; // ioredis sets status "end" a tick after quit() resolves
  });
});

/**
 * RedisStore while a Redis Cluster slot is being migrated, through node-redis's createCluster and
 * ioredis's Cluster: a private 3-master cluster (.ci/redis-cluster.sh on spare ports, never the
 * shared one) whose slot is put into MIGRATING/IMPORTING by hand with CLUSTER SETSLOT and part of
 * its keys MIGRATEd, as `redis-cli --cluster reshard` does one slot at a time. The source master
 * then answers ASK for every key it no longer holds, every time, instead of a race with a real
 * reshard (bench/chaos.ts `--only reshard` runs that, under load).
 */
import { execFile, spawnSync } from "node:child_process";
import { once } from "node:events";
import { promisify } from "node:util";
import { Cluster } from "ioredis";
import { createCluster } from "redis";
import { afterAll, describe, expect, it } from "vitest";
import { PrivateCluster } from "../bench/chaos/servers.js";
import type { RedisClientLike } from "../src/stores/redis.js";
import { RedisStore } from "../src/stores/redis.js";

const run = promisify(execFile);
const installed = spawnSync("redis-server", ["--version"]).status === 0;
if (!installed) {
  if (process.env.CI === "true") throw new Error("redis-server is not on PATH (CI=true: a missing server fails the run)");
  console.warn("\n!!! SKIPPING the Redis Cluster migration tests: redis-server is not on PATH.\n");
}

const servers = new PrivateCluster(false);
const started = installed ? servers.start() : Promise.resolve();
started.catch(() => {}); // reported by the first test that awaits it
const clients: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  await Promise.allSettled(clients.map((close) => close()));
  await servers.stop();
});

const cli = async (port: number, ...args: string[]) => (await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args])).stdout.trim();

/** The master serving `slot`, and another one to migrate it to, by port and node id. */
async function migrationPair(slot: number): Promise<{ source: number; target: number; sourceId: string; targetId: string }> {
  const masters = (await cli(servers.ports[0]!, "cluster", "nodes")).split("\n").map((line) => {
    const [id, address, , , , , , , ...ranges] = line.split(" ");
    const port = Number(/:(\d+)@/.exec(address!)![1]);
    const serves = ranges.some((range) => {
      const [from, to = from] = range.split("-").map(Number);
      return slot >= from! && slot <= to!;
    });
    return { id: id!, port, serves };
  });
  const source = masters.find((master) => master.serves)!;
  const target = masters.find((master) => !master.serves)!;
  return { source: source.port, target: target.port, sourceId: source.id, targetId: target.id };
}

/**
 * Puts the slot of `prefix`'s hash tag into migration from its master to another one and moves
 * `moved` keys there: the source then answers ASK for those keys and for keys it does not have.
 */
async function migrateSlotOf(prefix: string, moved: string[]): Promise<void> {
  const slot = Number(await cli(servers.ports[0]!, "cluster", "keyslot", prefix));
  const { source, target, sourceId, targetId } = await migrationPair(slot);
  await cli(target, "cluster", "setslot", String(slot), "importing", sourceId);
  await cli(source, "cluster", "setslot", String(slot), "migrating", targetId);
  const reply = await cli(source, "migrate", "127.0.0.1", String(target), "", "0", "5000", "keys", ...moved);
  if (reply !== "OK") throw new Error(`MIGRATE answered ${reply}`);
  // The premise: the source now redirects a moved key instead of answering for it.
  expect(await cli(source, "exists", moved[0]!)).toMatch(/^ASK /);
}

const kinds: { name: string; connect: () => Promise<RedisClientLike> }[] = [
  {
    name: "node-redis createCluster",
    connect: async () => {
      await started;
      const client = createCluster({ rootNodes: servers.ports.map((port) => ({ url: `redis://127.0.0.1:${port}` })) });
      client.on("error", () => {});
      await client.connect();
      clients.push(() => client.close());
      return client;
    },
  },
  {
    name: "ioredis Cluster",
    connect: async () => {
      await started;
      const client = new Cluster(servers.ports.map((port) => ({ host: "127.0.0.1", port })));
      client.on("error", () => {});
      await once(client, "ready");
      clients.push(() => client.quit());
      return client;
    },
  },
];

describe.skipIf(!installed).each(kinds)("RedisStore on a Redis Cluster slot in migration ($name)", ({ name, connect }) => {
  it("follows ASK: sessions and a user's index already moved, and new ones, are read, written, listed and destroyed on the importing master", async () => {
    // One hash tag in the prefix puts every key of this store (records and owner indexes) in one slot.
    const prefix = `migrating{${name}}:`;
    const store = new RedisStore({ client: await connect(), prefix });
    const expiresAt = Date.now() + 60_000;
    const write = (data: string, expectedVersion: number) => ({ data, expiresAt, version: expectedVersion + 1, expectedVersion, owner: "ada" });
    await store.indexOwner("ada", "moved", expiresAt);
    expect(await store.set("moved", write("before", 0))).toBe(true);
    expect(await store.set("stays", write("source", 0))).toBe(true);
    await migrateSlotOf(prefix, [`${prefix}moved`, `${prefix}owner:{ada}`]);

    expect((await store.get("moved"))?.data).toBe("before");
    expect((await store.get("stays"))?.data).toBe("source");
    // The scripts run on the importing master, which has never seen them (NOSCRIPT, then EVAL).
    expect(await store.set("moved", write("after", 1))).toBe(true);
    expect(await store.set("moved", write("stale", 1)), "a write at an old version must still lose").toBe(false);
    await store.indexOwner("ada", "fresh", expiresAt);
    expect(await store.set("fresh", write("new", 0))).toBe(true);
    await store.touch("moved", expiresAt + 1000);
    const listed = await store.listByOwner("ada");
    expect(listed.map(({ key, record }) => [key, record.data]).sort()).toEqual([["fresh", "new"], ["moved", "after"]]);
    expect((await store.get("moved"))?.expiresAt).toBe(expiresAt + 1000);

    await store.destroy("moved");
    await store.unindexOwner("ada", "moved");
    expect(await store.get("moved"), "a destroyed session read back").toBeNull();
    expect((await store.listByOwner("ada")).map(({ key }) => key)).toEqual(["fresh"]);
  });
});

/**
 * What `waitReplicas: 1` costs a RedisStore write: set() latency and throughput with and without
 * WAIT, on a private master + replica (.ci/redis-sentinel.sh on spare ports), per client kind.
 *   node --import tsx bench/wait-cost.ts [--writes 2000]
 * Alternates the two settings per round so machine load hits both alike. Table on stdout.
 */
import { createHistogram } from "node:perf_hooks";
import { Redis } from "ioredis";
import { createClient, createSentinel } from "redis";
import type { RedisClientLike } from "../src/stores/redis.js";
import { RedisStore } from "../src/stores/redis.js";
import { progress } from "./chaos/harness.js";
import { PrivateSentinel } from "./chaos/servers.js";

const args = process.argv.slice(2);
const WRITES = Number(args.includes("--writes") ? args[args.indexOf("--writes") + 1] : 2000);
const ROUNDS = 3;
const CONCURRENCY = 32;

async function measure(client: RedisClientLike, waitReplicas: number, round: number) {
  const store = new RedisStore({ client, prefix: `waitcost:${waitReplicas}:${round}:`, waitReplicas, waitTimeout: "1s" });
  const write = (key: string) => store.set(key, { data: "x".repeat(200), expiresAt: Date.now() + 60_000, version: 1, expectedVersion: 0 });
  const latency = createHistogram();
  for (let i = 0; i < WRITES; i++) {
    const started = process.hrtime.bigint();
    await write(`s${i}`);
    latency.record(Number(process.hrtime.bigint() - started));
  }
  const began = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < WRITES) await write(`c${next++}`);
  }));
  return { p50: latency.percentile(50) / 1e3, p99: latency.percentile(99) / 1e3, perSecond: WRITES / ((performance.now() - began) / 1000) };
}

const servers = new PrivateSentinel();
const rows: string[] = [];
try {
  await servers.start();
  const master = await servers.masterPort();
  const kinds: [string, () => Promise<{ client: RedisClientLike; close(): Promise<unknown> }>][] = [
    ["node-redis createClient (master)", async () => {
      const client = await createClient({ url: `redis://127.0.0.1:${master}` }).connect();
      return { client, close: () => client.close() };
    }],
    ["node-redis createSentinel", async () => {
      const client = await createSentinel({ name: "mymaster", sentinelRootNodes: servers.sentinels }).connect();
      return { client, close: () => client.close() };
    }],
    ["ioredis with sentinels", async () => {
      const client = new Redis({ sentinels: servers.sentinels, name: "mymaster" });
      return { client, close: () => client.quit() };
    }],
  ];
  for (const [name, connect] of kinds) {
    const { client, close } = await connect();
    const results: Record<number, { p50: number; p99: number; perSecond: number }[]> = { 0: [], 1: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const wait of [0, 1]) results[wait]!.push(await measure(client, wait, round));
      progress(`wait cost ${name}: round ${round + 1}/${ROUNDS}`);
    }
    await close();
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const cell = (wait: number, key: "p50" | "p99" | "perSecond") => median(results[wait]!.map((r) => r[key])).toFixed(0);
    rows.push(`| ${name} | ${cell(0, "p50")} / ${cell(0, "p99")} | ${cell(1, "p50")} / ${cell(1, "p99")} | ${cell(0, "perSecond")} | ${cell(1, "perSecond")} |`);
  }
} finally {
  await servers.stop();
}
console.log([
  `RedisStore.set() with waitReplicas 0 vs 1 (one replica on loopback), ${WRITES} writes, median of ${ROUNDS} rounds`,
  "",
  "| client | latency µs p50 / p99, no WAIT | latency µs p50 / p99, waitReplicas 1 | writes/s at 32 in flight, no WAIT | writes/s, waitReplicas 1 |",
  "|---|---|---|---|---|",
  ...rows,
].join("\n"));
process.exit(0);

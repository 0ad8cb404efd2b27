/**
 * What RedisStore's use of node-redis's private `_execute` on a Sentinel client saves: a write
 * and its WAIT must go down one master connection, which the public `use()` gives by leasing a
 * connection, and `_execute` by running on a pooled one. Both on a private master + replica
 * (.ci/redis-sentinel.sh on spare ports), alternated per round.
 *   node --import tsx bench/sentinel-batch.ts [--batches 50]
 */
import { createHistogram } from "node:perf_hooks";
import { createSentinel } from "redis";
import { PrivateSentinel } from "./chaos/servers.js";

const args = process.argv.slice(2);
const BATCHES = Number(args.includes("--batches") ? args[args.indexOf("--batches") + 1] : 50);
const ROUNDS = 3;
const CONCURRENCY = 16;

type Send = (args: string[]) => Promise<unknown>;
interface SentinelInternals {
  use<T>(run: (client: { sendCommand(isReadonly: boolean, args: string[]): Promise<unknown> }) => Promise<T>): Promise<T>;
  _execute<T>(isReadonly: boolean, run: (client: { sendCommand(args: string[]): Promise<unknown> }) => Promise<T>): Promise<T>;
}

function writeThenWait(send: Send, key: string): Promise<unknown[]> {
  return Promise.all([send(["SET", key, "x".repeat(200), "PX", "60000"]), send(["WAIT", "1", "1000"])]);
}

const ways: Record<string, (sentinel: SentinelInternals, key: string) => Promise<unknown>> = {
  "use() (public, leases a connection)": (sentinel, key) => sentinel.use((master) => writeThenWait((a) => master.sendCommand(false, a), key)),
  "_execute (private, pooled connection)": (sentinel, key) => sentinel._execute(false, (master) => writeThenWait((a) => master.sendCommand(a), key)),
};

async function measure(sentinel: SentinelInternals, way: (sentinel: SentinelInternals, key: string) => Promise<unknown>, round: number) {
  const latency = createHistogram();
  for (let i = 0; i < BATCHES; i++) {
    const started = process.hrtime.bigint();
    await way(sentinel, `batch:${round}:s${i}`);
    latency.record(Number(process.hrtime.bigint() - started));
  }
  const began = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < BATCHES) await way(sentinel, `batch:${round}:c${next++}`);
  }));
  return { p50: latency.percentile(50) / 1e3, p99: latency.percentile(99) / 1e3, perSecond: BATCHES / ((performance.now() - began) / 1000) };
}

const servers = new PrivateSentinel();
try {
  await servers.start();
  const client = createSentinel({ name: "mymaster", sentinelRootNodes: servers.sentinels, masterPoolSize: 1 });
  client.on("error", () => {});
  const sentinel = (await client.connect()) as unknown as SentinelInternals;
  const results = new Map<string, { p50: number; p99: number; perSecond: number }[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, way] of Object.entries(ways)) {
      process.stderr.write(`round ${round}: ${name}\n`);
      const result = await measure(sentinel, way, round);
      results.set(name, [...(results.get(name) ?? []), result]);
    }
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  console.log(`Node ${process.version}, ${BATCHES} batches (SET + WAIT 1) per round, ${ROUNDS} rounds, medians`);
  console.log("| way | p50 µs | p99 µs | batches/s at concurrency " + CONCURRENCY + " |\n|---|---:|---:|---:|");
  for (const [name, rows] of results) {
    console.log(`| ${name} | ${median(rows.map((r) => r.p50)).toFixed(0)} | ${median(rows.map((r) => r.p99)).toFixed(0)} | ${median(rows.map((r) => r.perSecond)).toFixed(0)} |`);
  }
  await client.close();
} finally {
  await servers.stop();
}

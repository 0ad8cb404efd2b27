/**
 * The OpenTelemetry wiring of docs/observability.md, run as written: the block is extracted from
 * the page, registered against an SDK MeterProvider with a manual reader, and a few requests on a
 * MemoryStore (one forced conflict, a revocation, a logout, a gc) must show up in its metrics.
 * A file of its own: the wiring's subscriptions last for the whole process.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { metrics } from "@opentelemetry/api";
import type { DataPoint, Histogram, ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { afterAll, beforeAll, expect, it } from "vitest";
import { MemoryStore, SessionManager } from "../src/index.js";
import { GatedStore } from "../src/testing/index.js";

const root = join(import.meta.dirname, "..");

/** The first ```ts block under `heading` of docs/observability.md, importing sessionkit from src/. */
function wiringBlock(heading: string): string {
  const doc = readFileSync(join(root, "docs", "observability.md"), "utf8");
  const section = doc.slice(doc.indexOf(`\n${heading}\n`));
  const block = /^```ts\n([\s\S]*?)^```$/m.exec(section)?.[1];
  if (!block) throw new Error(`docs/observability.md has no ts block under ${heading}`);
  return block.replace(/from "sessionkit"/g, 'from "../src/index.js"');
}

/** Collects on demand, as a test wants: no timer. */
class ManualReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

const reader = new ManualReader();
// scratch/ is gitignored and outside the type-checked tree; the block imports ../src from there.
const file = join(root, "scratch", `telemetry-${process.pid}.ts`);

beforeAll(async () => {
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  mkdirSync(join(root, "scratch"), { recursive: true });
  writeFileSync(file, wiringBlock("## OpenTelemetry metrics"));
  await import(pathToFileURL(file).href);
});

afterAll(() => rmSync(file, { force: true }));

function points(collected: ResourceMetrics, name: string): Array<DataPoint<unknown>> {
  const metric = collected.scopeMetrics.flatMap((scope) => scope.metrics).find((m) => m.descriptor.name === name);
  return (metric?.dataPoints ?? []) as Array<DataPoint<unknown>>;
}

const tokenOf = (cookies: string[]) => /^sid=([^;]*)/.exec(cookies[0] ?? "")?.[1] ?? "";

it("the documented wiring records store latency, conflicts and sessions ended by reason", async () => {
  let now = Date.UTC(2026, 0, 1);
  const gated = new GatedStore(new MemoryStore({ now: () => now }));
  const sessions = new SessionManager<Record<string, unknown>>({ store: gated, now: () => now, idleTimeout: "10m", gcInterval: 0 });
  const tokens: string[] = [];
  for (let i = 0; i < 2; i++) {
    const session = await sessions.load();
    await session.signIn("ada@example.com");
    tokens.push(tokenOf(await sessions.commit(session)));
  }
  // B commits while A's write is held: A's write conflicts once and is replayed.
  const a = await sessions.load(tokens[0]);
  const b = await sessions.load(tokens[0]);
  a.set("a", 1);
  b.set("b", 1);
  const gate = gated.hold("set");
  const committingA = sessions.commit(a);
  await gate.reached;
  await sessions.commit(b);
  gate.release();
  await committingA;
  expect(await sessions.revokeUser("ada@example.com", { except: a })).toBe(1);
  await a.destroy();
  await sessions.commit(a);
  const anonymous = await sessions.load();
  anonymous.set("n", 1);
  await sessions.commit(anonymous);
  now += 11 * 60_000;
  expect(await sessions.gc()).toBe(1);

  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);

  const latency = points(resourceMetrics, "sessionkit.store.duration");
  const byCall = new Map(latency.map((p) => [`${String(p.attributes["sessionkit.operation"])} ${String(p.attributes["sessionkit.outcome"])}`, p.value as Histogram]));
  expect(latency.every((p) => p.attributes["sessionkit.store"] === "GatedStore")).toBe(true);
  expect(byCall.get("set conflict")?.count).toBe(1);
  expect(byCall.get("get hit")?.count).toBeGreaterThanOrEqual(3);
  expect(byCall.get("set applied")?.count).toBeGreaterThanOrEqual(4);
  expect(byCall.get("gc ok")?.count).toBe(1);
  for (const histogram of byCall.values()) expect(histogram.sum).toBeGreaterThanOrEqual(0);

  expect(points(resourceMetrics, "sessionkit.conflicts").map((p) => [p.attributes, p.value])).toEqual([[{ "sessionkit.store": "GatedStore" }, 1]]);
  const ended = Object.fromEntries(points(resourceMetrics, "sessionkit.sessions.ended").map((p) => [p.attributes["sessionkit.reason"], p.value]));
  expect(ended).toEqual({ revoked: 1, destroyed: 1, expired: 1 });

  // The exported metrics name no token and no user.
  const exported = JSON.stringify(resourceMetrics.scopeMetrics);
  expect(exported).not.toContain("ada");
  for (const token of tokens) expect(exported).not.toContain(token);
});

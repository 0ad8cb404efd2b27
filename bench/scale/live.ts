/**
 * Live sessions at scale (issue 30): for each store and N live sessions, the time to fill, the
 * latency and CPU of a request at a fixed rate, the bytes one session occupies, and what count()
 * costs; then the peers' bytes per session for the same data at the largest N.
 *
 *   node --expose-gc --import tsx bench/scale/live.ts [--sizes 10000,100000,1000000] [--stores memory,redis]
 *        [--large-stores redis,postgres --large-size 10000000] [--rate 500 --seconds 5] [--smoke]
 *
 * A request is the manager's `load` of a random one of the N sessions then `commit` of a change,
 * in this process (no HTTP): what grows with N is the store, and HTTP would only add noise.
 * Writes bench/results/scale/live.json (see bench/scale/lib.ts for the shape).
 */
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import type { StoredSession } from "../../src/index.js";
import { SessionManager } from "../../src/index.js";
import { hashToken } from "../../src/core/ids.js";
import type { Curve, OpenLoopFigures, PartResult, ScaleOptions, Table } from "./lib.js";
import { environment, keyOf, openLoop, parseOptions, processCpuMicros, quantile, readResult, round, tokenOf, writeResult } from "./lib.js";
import type { LiveSubject, SubjectFactory } from "./live-stores.js";
import { reachableFactories } from "./live-stores.js";
import type { PeerFootprint } from "./peers.js";
import { besideOf, measurePeers, PAYLOAD } from "./peers.js";

/** The first sessions are written through the store's own `set`, the rest by the bulk fill in the same format. */
const THROUGH_API = 1_000;

export interface LiveRow {
  store: string;
  n: number;
  fillSeconds: number;
  loadP50: number;
  loadP99: number;
  commitP50: number;
  commitP99: number;
  cpuMicrosPerRequest: number;
  serverCpuMicrosPerRequest: number | null;
  notFound: number;
  maxLagMs: number;
  bytesPerSession: number;
  sampledBytes: number | null;
  bytesMethod: string;
  countMs: number;
  counted: number;
  countMethod: string;
  /** The machine's 1-minute load average when the requests ran (the machine is shared). */
  loadAverage: number;
}

type Manager = SessionManager<Record<string, unknown>>;

/** One real session written by the manager: the record every filled session copies. */
async function templateRecord(manager: Manager, subject: LiveSubject): Promise<StoredSession> {
  const session = await manager.load();
  for (const [name, value] of Object.entries(PAYLOAD)) session.set(name, value);
  const [cookie] = await manager.commit(session);
  const key = hashToken(/^sid=([^;]*)/.exec(cookie ?? "")![1]!);
  const record = await subject.store.get(key);
  if (!record) throw new Error("the template session was not stored");
  await subject.store.destroy(key);
  return record;
}

interface RequestFigures extends OpenLoopFigures {
  load: number[];
  commit: number[];
  notFound: number;
  cpuMicros: number;
  serverCpuMicros: number | undefined;
}

/** `load` a random one of the n sessions, change it, `commit`: at `rate` per second for `seconds`. */
async function requests(manager: Manager, subject: LiveSubject, n: number, rate: number, seconds: number): Promise<RequestFigures> {
  const load: number[] = [];
  const commit: number[] = [];
  let notFound = 0;
  const cpuBefore = processCpuMicros();
  const serverBefore = await subject.serverCpuMicros?.();
  const figures = await openLoop(rate, seconds, async (i) => {
    const started = performance.now();
    const session = await manager.load(tokenOf(Math.floor(Math.random() * n)));
    const loaded = performance.now();
    if (session.isNew) notFound++;
    session.set("seen", i);
    await manager.commit(session);
    load.push(loaded - started);
    commit.push(performance.now() - loaded);
  });
  const cpuMicros = processCpuMicros() - cpuBefore;
  const serverAfter = await subject.serverCpuMicros?.();
  const serverCpuMicros = serverBefore === undefined || serverAfter === undefined ? undefined : serverAfter - serverBefore;
  return { ...figures, load: load.sort((a, b) => a - b), commit: commit.sort((a, b) => a - b), notFound, cpuMicros, serverCpuMicros };
}

async function measureStore(factory: SubjectFactory, sizes: number[], options: ScaleOptions): Promise<LiveRow[]> {
  const subject = await factory.open();
  const manager: Manager = new SessionManager({ store: subject.store, gcInterval: 0, storeTimeout: "30s" });
  const rows: LiveRow[] = [];
  try {
    const template = await templateRecord(manager, subject);
    let filled = 0;
    let fillSeconds = 0;
    for (const n of sizes) {
      const started = performance.now();
      for (; filled < Math.min(n, THROUGH_API); filled++) {
        await subject.store.set(keyOf(filled), { ...template, version: 1, expectedVersion: 0 });
      }
      if (filled < n) await subject.fill(filled, n, template);
      filled = n;
      fillSeconds += (performance.now() - started) / 1000;
      progress(`${factory.name} N=${n}: filled in ${fillSeconds.toFixed(1)} s`);
      await requests(manager, subject, n, options.rate, options.smoke ? 0.3 : 1); // warm-up: connections, JIT, caches
      const figures = await requests(manager, subject, n, options.rate, options.seconds);
      const countStarted = performance.now();
      const counted = (await subject.store.count?.()) ?? Number.NaN;
      const countMs = performance.now() - countStarted;
      const footprint = await subject.footprint(n);
      rows.push({
        store: factory.name,
        n,
        fillSeconds: round(fillSeconds, 1),
        loadP50: round(quantile(figures.load, 0.5), 3),
        loadP99: round(quantile(figures.load, 0.99), 3),
        commitP50: round(quantile(figures.commit, 0.5), 3),
        commitP99: round(quantile(figures.commit, 0.99), 3),
        cpuMicrosPerRequest: round(figures.cpuMicros / figures.requests, 1),
        serverCpuMicrosPerRequest: figures.serverCpuMicros === undefined ? null : round(figures.serverCpuMicros / figures.requests, 1),
        notFound: figures.notFound,
        maxLagMs: round(figures.maxLagMs, 1),
        bytesPerSession: round(footprint.bytesPerSession, 1),
        sampledBytes: footprint.sampledBytes === undefined ? null : round(footprint.sampledBytes, 1),
        bytesMethod: footprint.method,
        countMs: round(countMs, 1),
        counted,
        countMethod: subject.countMethod,
        loadAverage: round(loadavg()[0]!, 1),
      });
      progress(`${factory.name} N=${n}: load p50 ${rows.at(-1)!.loadP50} ms, commit p50 ${rows.at(-1)!.commitP50} ms, count ${countMs.toFixed(0)} ms`);
    }
  } finally {
    await manager.close();
    await subject.cleanup();
  }
  return rows;
}

const progress = (line: string) => process.stderr.write(`[scale live] ${line}\n`);

function tables(rows: LiveRow[], peers: PeerFootprint[], options: ScaleOptions): Table[] {
  const requestTable: Table = {
    title: `Live sessions: one request = manager load + commit of a change, open loop at ${options.rate}/s for ${options.seconds} s, in-process`,
    columns: ["store", "N", "fill (s)", "load p50 (ms)", "load p99 (ms)", "commit p50 (ms)", "commit p99 (ms)", "CPU µs/req (bench process)", "server CPU µs/req", "not found", "max lag (ms)", "load average"],
    rows: rows.map((r) => [r.store, r.n, r.fillSeconds, r.loadP50, r.loadP99, r.commitP50, r.commitP99, r.cpuMicrosPerRequest, r.serverCpuMicrosPerRequest ?? "–", r.notFound, r.maxLagMs, r.loadAverage]),
  };
  const bytesTable: Table = {
    title: "Bytes per live session",
    columns: ["store", "N", "bytes/session", "MEMORY USAGE (sampled)", "how"],
    rows: [
      ...rows.map((r) => [r.store, r.n, r.bytesPerSession, r.sampledBytes ?? "–", r.bytesMethod]),
      ...peers.map((p) => [p.name, p.n, round(p.bytesPerSession, 1), p.sampledBytes === undefined ? "–" : round(p.sampledBytes, 1), p.method]),
    ],
  };
  const countTable: Table = {
    title: "count()",
    columns: ["store", "N", "count() (ms)", "returned", "what it does"],
    rows: rows.map((r) => [r.store, r.n, r.countMs, r.counted, r.countMethod]),
  };
  const flatness: Table = {
    title: "Flatness: p50 at the largest N / p50 at the smallest N",
    columns: ["store", "from N", "to N", "load p50 ratio", "commit p50 ratio", "CPU/req ratio"],
    rows: [...byStore(rows)].map(([store, list]) => {
      const [first, last] = [list[0]!, list.at(-1)!];
      return [store, first.n, last.n, round(last.loadP50 / first.loadP50), round(last.commitP50 / first.commitP50), round(last.cpuMicrosPerRequest / first.cpuMicrosPerRequest)];
    }),
  };
  return [requestTable, bytesTable, countTable, flatness];
}

function byStore(rows: LiveRow[]): Map<string, LiveRow[]> {
  const grouped = new Map<string, LiveRow[]>();
  for (const row of rows) grouped.set(row.store, [...(grouped.get(row.store) ?? []), row]);
  return grouped;
}

function curves(rows: LiveRow[], peers: PeerFootprint[]): Curve[] {
  const series = (value: (row: LiveRow) => number | null) =>
    [...byStore(rows)].map(([name, list]) => ({ name, points: list.filter((r) => value(r) !== null).map((r): [number, number] => [r.n, value(r)!]) }));
  const curve = (id: string, title: string, yLabel: string, value: (row: LiveRow) => number | null, logY = false): Curve => ({
    id, title, xLabel: "live sessions (N)", yLabel, logX: true, logY, series: series(value),
  });
  const bytes = curve("live-bytes-per-session", "Bytes per live session (peers: same data, largest N)", "bytes / session", (r) => r.bytesPerSession);
  bytes.series.push(...peers.map((p) => ({ name: p.name, points: [[p.n, p.bytesPerSession]] as [number, number][] })));
  return [
    curve("live-load-p50", "load p50 vs live sessions", "ms", (r) => r.loadP50, true),
    curve("live-commit-p50", "commit p50 vs live sessions", "ms", (r) => r.commitP50, true),
    curve("live-cpu-per-request", "CPU per request (bench process) vs live sessions", "µs / request", (r) => r.cpuMicrosPerRequest),
    curve("live-server-cpu-per-request", "Server CPU per request vs live sessions (Redis: whole server)", "µs / request", (r) => r.serverCpuMicrosPerRequest),
    bytes,
    curve("live-count", "count() time vs live sessions", "ms", (r) => r.countMs, true),
  ];
}

/** The part's result, with the raw rows (so a later run with --merge can add stores to it). */
interface LiveResult extends PartResult {
  rows: LiveRow[];
  peers: PeerFootprint[];
}

function result(rows: LiveRow[], peers: PeerFootprint[], options: ScaleOptions): LiveResult {
  return {
    rows,
    peers,
    part: "live",
    settings: { sizes: options.sizes, largeStores: options.largeStores, largeSize: options.largeSize, rate: options.rate, seconds: options.seconds, smoke: options.smoke, throughApi: THROUGH_API, payload: PAYLOAD },
    env: environment(),
    tables: tables(rows, peers, options),
    curves: curves(rows, peers),
  };
}

/** With --merge: the rows and peers of an earlier run's live.json that this run does not measure again. */
function earlier(dir: string, factories: SubjectFactory[]): Pick<LiveResult, "rows" | "peers"> {
  const path = join(dir, "live.json");
  if (!existsSync(path)) return { rows: [], peers: [] };
  const measured = new Set(factories.map((f) => f.name));
  const { rows, peers = [] } = readResult(path) as LiveResult;
  return { rows: rows.filter((row) => !measured.has(row.store)), peers: peers.filter((peer) => !measured.has(besideOf(peer.name) ?? "")) };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const factories = await reachableFactories(options.stores);
  const before = options.merge ? earlier(options.out, factories) : { rows: [], peers: [] };
  const rows = before.rows;
  for (const factory of factories) {
    const sizes = options.largeStores.includes(factory.name) ? [...options.sizes, options.largeSize] : options.sizes;
    rows.push(...(await measureStore(factory, sizes, options)));
    writeResult(result(rows, [], options), options.out); // kept if a later store fails
  }
  // The peers at the largest N every store reached (10M, where reached, is for some stores only).
  const peers = [...before.peers, ...(await measurePeers(Math.max(...options.sizes), factories.map((f) => f.name)))];
  progress(`written: ${writeResult(result(rows, peers, options), options.out)}`);
}

await main();

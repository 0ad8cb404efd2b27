/**
 * Turns measurements into the results table, the issue's targets with pass/fail, and the
 * environment the figures came from (markdown for people, JSON for tools).
 */
import type { Contestant } from "./http/contestants.js";
import type { LoadSettings, RunResult } from "./http/load.js";
import { median } from "./lib.js";
import type { MemoryResult } from "./micro/memory.js";
import type { MicroResult } from "./micro/manager.js";

export interface ContestantOutcome {
  contestant: Contestant;
  /** Why it did not run ("not available yet: ..."), or undefined when it ran. */
  unavailable?: string;
  runs: RunResult[];
  problems: string[];
  verification?: string;
}

export interface Row {
  id: string;
  library: string;
  store: string;
  framework: string;
  route: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  /** sessionkit req/s ÷ this peer's req/s on the same store, framework and route. */
  sessionkitRatio?: number;
  /** 1 − req/s ÷ bare req/s of the same framework and route. */
  overhead?: number;
  kind: Contestant["kind"];
  /** Server process CPU time (user + system) per request served, µs: median of the rounds. */
  cpuMicrosPerRequest?: number;
  /** cpuMicrosPerRequest − the bare framework's, same route. */
  cpuOverBare?: number;
  /** cpuMicrosPerRequest − the floor contestant's (one raw round trip to the same store), same route. */
  cpuOverFloor?: number;
  /** A floor whose /write reads, then writes (two round trips, as a session write must). */
  readFirst?: boolean;
  /** /write only: cpuMicrosPerRequest − that load-then-save floor's. */
  cpuOverLoadSaveFloor?: number;
  valid: boolean;
}

export interface Target {
  name: string;
  measured: string;
  required: string;
  pass: boolean | undefined;
}

export interface Report {
  date: string;
  environment: Record<string, string | number>;
  packages: Record<string, string>;
  settings: LoadSettings & { pipelining: number; mode: string; notes: string[] };
  contestants: Array<{ id: string; settings: string; status: string; verification?: string; problems: string[] }>;
  rows: Row[];
  micro: MicroResult[];
  memory: MemoryResult[];
  targets: Target[];
}

const ROUTE_ORDER = ["/read", "/write"];

export function buildRows(outcomes: ContestantOutcome[]): Row[] {
  const rows: Row[] = [];
  for (const { contestant, runs, problems, unavailable } of outcomes) {
    if (unavailable) continue;
    for (const route of ROUTE_ORDER) {
      const mine = runs.filter((run) => run.route === route);
      if (mine.length === 0) continue;
      rows.push({
        id: contestant.id,
        library: contestant.label,
        store: contestant.store,
        framework: contestant.framework,
        route,
        requestsPerSecond: median(mine.map((run) => run.requestsPerSecond)),
        p50: median(mine.map((run) => run.p50)),
        p99: median(mine.map((run) => run.p99)),
        kind: contestant.kind,
        ...(contestant.readFirst ? { readFirst: true } : {}),
        cpuMicrosPerRequest: medianOf(mine.map((run) => run.cpuMicrosPerRequest)),
        valid: problems.length === 0 && mine.every((run) => run.non2xx === 0 && run.errors === 0 && run.timeouts === 0),
      });
    }
  }
  for (const row of rows) {
    const bare = rows.find((r) => r.store === "none" && r.framework === row.framework && r.route === row.route);
    if (bare && row.store !== "none") row.overhead = 1 - row.requestsPerSecond / bare.requestsPerSecond;
    if (bare && row.store !== "none") row.cpuOverBare = difference(row.cpuMicrosPerRequest, bare.cpuMicrosPerRequest);
    const floor = floorOf(rows, row);
    if (floor && row.kind !== "floor") row.cpuOverFloor = difference(row.cpuMicrosPerRequest, floor.cpuMicrosPerRequest);
    const loadSave = floorOf(rows, row, true);
    if (loadSave && row.kind !== "floor" && row.route === "/write") row.cpuOverLoadSaveFloor = difference(row.cpuMicrosPerRequest, loadSave.cpuMicrosPerRequest);
    if (row.kind !== "peer") continue;
    const ours = sessionkitRow(rows, row);
    if (ours) row.sessionkitRatio = ours.requestsPerSecond / row.requestsPerSecond;
  }
  return rows;
}

/** The floor of the same store, framework and route: one round trip, or with `readFirst` the load-then-save one. */
function floorOf(rows: Row[], row: Row, readFirst = false): Row | undefined {
  return rows.find((r) => r.kind === "floor" && (r.readFirst === true) === readFirst && r.store === row.store && r.framework === row.framework && r.route === row.route);
}

function medianOf(values: Array<number | undefined>): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length > 0 ? median(known) : undefined;
}

function difference(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : a - b;
}

function sessionkitRow(rows: Row[], peer: Row): Row | undefined {
  return rows.find(
    (r) =>
      r.store === peer.store &&
      r.framework === peer.framework &&
      r.route === peer.route &&
      r.kind === "sessionkit",
  );
}

export function evaluateTargets(rows: Row[], memory: MemoryResult[]): Target[] {
  const targets: Target[] = [];
  for (const peer of rows.filter((r) => r.framework === "express 5" && r.kind === "peer")) {
    const ours = sessionkitRow(rows, peer);
    const label = `Express 5, ${peer.store}, ${peer.route}: sessionkit vs ${peer.library}`;
    if (!ours) {
      targets.push({ name: label, measured: "sessionkit contestant not available", required: "overhead ≤ ½ peer's and req/s ≥ peer's", pass: undefined });
      continue;
    }
    const halfOverhead = ours.overhead !== undefined && peer.overhead !== undefined && ours.overhead <= peer.overhead / 2;
    targets.push({
      name: label,
      measured: `overhead ${pct(ours.overhead)} vs ${pct(peer.overhead)}; ${fmt(ours.requestsPerSecond)} vs ${fmt(peer.requestsPerSecond)} req/s`,
      required: "overhead ≤ ½ peer's and req/s ≥ peer's",
      pass: halfOverhead && ours.requestsPerSecond >= peer.requestsPerSecond && ours.valid && peer.valid,
    });
  }
  const nodeRead = rows.find((r) => r.id === "sk-memory-node" && r.route === "/read");
  const bareRead = rows.find((r) => r.id === "bare-node" && r.route === "/read");
  targets.push(ratioTarget("node:http /read: sessionkit+MemoryStore ÷ bare node:http", nodeRead, bareRead, 0.8));
  for (const route of ROUTE_ORDER) {
    const ours = rows.find((r) => r.id === "sk-cookie-node" && r.route === route);
    const iron = rows.find((r) => r.id === "iron-node" && r.route === route);
    targets.push(ratioTarget(`node:http ${route}: sessionkit+CookieStore ÷ iron-session`, ours, iron, 2));
  }
  targets.push(...cpuTargets(rows));
  const ourMemory = memory.find((m) => m.store === "sessionkit MemoryStore");
  const theirMemory = memory.find((m) => m.store === "express-session MemoryStore");
  if (ourMemory && theirMemory) {
    const ratio = ourMemory.bytesPerSession / theirMemory.bytesPerSession;
    targets.push({
      name: "heap per session: sessionkit MemoryStore ÷ express-session MemoryStore",
      measured: `${ratio.toFixed(2)} (${ourMemory.bytesPerSession.toFixed(0)} vs ${theirMemory.bytesPerSession.toFixed(0)} bytes)`,
      required: "≤ 0.70",
      pass: ratio <= 0.7,
    });
  }
  return targets;
}

const CPU_BUDGET_MICROS = 15;

/**
 * Server CPU per request (steadier than req/s on a shared machine): sessionkit + MemoryStore within
 * 15 µs of the bare framework, each server store on Express within 15 µs of its floor, and req/s
 * never below a peer's on the same store, framework and route.
 */
function cpuTargets(rows: Row[]): Target[] {
  const targets: Target[] = [];
  const budget = (name: string, ours: Row, over: number | undefined, base: string) =>
    targets.push({
      name,
      measured: over === undefined ? "no CPU figure" : `${signed(over)} µs (${micros(ours.cpuMicrosPerRequest)} vs ${base} µs/req)`,
      required: `≤ ${CPU_BUDGET_MICROS} µs`,
      pass: over === undefined ? undefined : over <= CPU_BUDGET_MICROS && ours.valid,
    });
  for (const ours of rows.filter((r) => r.kind === "sessionkit")) {
    const where = `${ours.framework}, ${ours.store}, ${ours.route}`;
    if (ours.store === "memory" && ours.framework !== "node:http") {
      const bare = rows.find((r) => r.kind === "bare" && r.framework === ours.framework && r.route === ours.route);
      budget(`${where}: sessionkit CPU over the bare framework`, ours, ours.cpuOverBare, micros(bare?.cpuMicrosPerRequest));
    }
    const floor = floorOf(rows, ours);
    if (floor) budget(`${where}: sessionkit CPU over one raw ${ours.store} round trip`, ours, ours.cpuOverFloor, micros(floor.cpuMicrosPerRequest));
  }
  for (const peer of rows.filter((r) => r.kind === "peer")) {
    const ours = sessionkitRow(rows, peer);
    if (!ours) continue;
    targets.push({
      name: `${peer.framework}, ${peer.store}, ${peer.route}: sessionkit req/s vs ${peer.library}`,
      measured: `${fmt(ours.requestsPerSecond)} vs ${fmt(peer.requestsPerSecond)} req/s`,
      required: "≥ peer's",
      pass: ours.requestsPerSecond >= peer.requestsPerSecond && ours.valid && peer.valid,
    });
  }
  return targets;
}

function ratioTarget(name: string, ours: Row | undefined, theirs: Row | undefined, minimum: number): Target {
  if (!ours || !theirs) return { name, measured: "a contestant is not available", required: `≥ ${minimum.toFixed(2)}×`, pass: undefined };
  const ratio = ours.requestsPerSecond / theirs.requestsPerSecond;
  return {
    name,
    measured: `${ratio.toFixed(2)}× (${fmt(ours.requestsPerSecond)} vs ${fmt(theirs.requestsPerSecond)} req/s)`,
    required: `≥ ${minimum.toFixed(2)}×`,
    pass: ratio >= minimum && ours.valid && theirs.valid,
  };
}

// ---- markdown ----

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const pct = (n: number | undefined) => (n === undefined ? "—" : `${(n * 100).toFixed(1)}%`);
const ms = (n: number) => n.toFixed(n < 10 ? 2 : 1);
const micros = (n: number | undefined) => (n === undefined ? "—" : n.toFixed(0));
const signed = (n: number | undefined) => (n === undefined ? "" : `${n >= 0 ? "+" : "−"}${Math.abs(n).toFixed(0)}`);

export function resultsTable(rows: Row[]): string {
  const lines = [
    "| contestant | store | framework | route | req/s | CPU µs/req | µs over bare | µs over floor | p50 ms | p99 ms | sessionkit ÷ peer | overhead vs bare | checks |",
    "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
  ];
  for (const r of rows) {
    const ratio = r.sessionkitRatio === undefined ? "" : `${r.sessionkitRatio.toFixed(2)}×`;
    const overhead = r.store === "none" ? "(ceiling)" : pct(r.overhead);
    const cpu = `${micros(r.cpuMicrosPerRequest)} | ${signed(r.cpuOverBare)} | ${signed(r.cpuOverFloor)}`;
    lines.push(
      `| ${r.library} | ${r.store} | ${r.framework} | ${r.route} | ${fmt(r.requestsPerSecond)} | ${cpu} | ${ms(r.p50)} | ${ms(r.p99)} | ${ratio} | ${overhead} | ${r.valid ? "ok" : "FAILED"} |`,
    );
  }
  return lines.join("\n");
}

/** Each session write against the floor that reads then writes: the two round trips any session write needs. */
export function loadSaveTable(rows: Row[]): string[] {
  const writes = rows.filter((r) => r.cpuOverLoadSaveFloor !== undefined);
  if (writes.length === 0) return [];
  const floorCpu = (row: Row, readFirst: boolean) => micros(floorOf(rows, row, readFirst)?.cpuMicrosPerRequest);
  return [
    "## Writes over the load-then-save floor",
    "",
    "A session write loads the session, then saves it: two round trips, where the floor above does one. " +
      "The load-then-save floor does both (Redis GET then INCR, SQL SELECT then upsert, readFile then an atomic write), still with no session library.",
    "",
    "| contestant | store | /write CPU µs/req | one-write floor | load-then-save floor | µs over load-then-save |",
    "|---|---|---:|---:|---:|---:|",
    ...writes.map((r) => `| ${r.library} | ${r.store} | ${micros(r.cpuMicrosPerRequest)} | ${floorCpu(r, false)} | ${floorCpu(r, true)} | ${signed(r.cpuOverLoadSaveFloor)} |`),
    "",
  ];
}

export function toMarkdown(report: Report): string {
  const s = report.settings;
  const out = [
    `# sessionkit benchmark results (${s.mode})`,
    "",
    `${report.date} · ${Object.entries(report.environment).map(([k, v]) => `${k}: ${v}`).join(" · ")}`,
    "",
    `Load: autocannon, ${s.connections} connections, pipelining ${s.pipelining}, ${s.sessions} sessions seeded through /login and dealt out ` +
      `${Math.ceil(s.sessions / s.connections)} per connection; warm-up ${s.warmupSeconds} s per route, then ${s.rounds} round(s) of ` +
      `${s.durationSeconds} s per route; figures are the median of the rounds. Each contestant is a separate server process.`,
    ...s.notes.map((note) => `- ${note}`),
    "",
    "## HTTP",
    "",
    resultsTable(report.rows),
    "",
    "`CPU µs/req`: the server process's CPU time (user + system, process.cpuUsage()) over a run ÷ responses served, median of the rounds. " +
      "`µs over bare` / `µs over floor`: minus the bare framework's / the floor's (the framework plus exactly one raw round trip to the same store, no session library) on the same route. " +
      "`sessionkit ÷ peer`: sessionkit's req/s over this peer's on the same store, framework and route (> 1: sessionkit is faster). " +
      "`overhead vs bare` = 1 − req/s ÷ req/s of the bare server of the same framework on the same route. " +
      "`checks`: every response 2xx and the store holds every write (see Verification).",
    "",
    ...loadSaveTable(report.rows),
    "## Targets of the issue",
    "",
    "| target | measured | required | result |",
    "|---|---|---|:---:|",
    ...report.targets.map((t) => `| ${t.name} | ${t.measured} | ${t.required} | ${t.pass === undefined ? "n/a" : t.pass ? "PASS" : "MISS"} |`),
    "",
    "## Micro benchmarks",
    "",
    "| sessionkit manager + MemoryStore (no HTTP) | ns/op | ops/s | ±rme |",
    "|---|---:|---:|---:|",
    ...report.micro.map((m) => `| ${m.name} | ${fmt(m.nsPerOp)} | ${fmt(m.opsPerSecond)} | ${m.rme.toFixed(1)}% |`),
    "",
    "| heap per session (200-byte payload) | sessions | bytes/session |",
    "|---|---:|---:|",
    ...report.memory.map((m) => `| ${m.store} | ${fmt(m.sessions)} | ${fmt(m.bytesPerSession)} |`),
    "",
    "## Contestants, settings and verification",
    "",
    ...report.contestants.map(
      (c) => `- **${c.id}** — ${c.status}. ${c.settings}.${c.verification ? ` Verification: ${c.verification}.` : ""}${c.problems.length ? ` PROBLEMS: ${c.problems.join("; ")}` : ""}`,
    ),
    "",
    "## Package versions",
    "",
    Object.entries(report.packages).map(([name, version]) => `${name} ${version}`).join(", "),
    "",
  ];
  return out.join("\n");
}

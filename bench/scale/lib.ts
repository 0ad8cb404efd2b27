/**
 * Helpers shared by the parts of `npm run bench:scale` (issue 30): the options every part takes,
 * the result file every part writes (one shape, so bench/scale/chart.ts draws every curve), the
 * tokens of the n-th filled session, an open-loop request clock, and CPU readings.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { hashToken } from "../../src/core/ids.js";
import { REPO_ROOT } from "../lib.js";

export const RESULTS_DIR = join(REPO_ROOT, "bench", "results", "scale");

export interface ScaleOptions {
  parts: string[];
  sizes: number[];
  /** Undefined: every reachable store. */
  stores: string[] | undefined;
  smoke: boolean;
  /** Stores that also go to `largeSize` (where their bulk fill is fast enough). */
  largeStores: string[];
  largeSize: number;
  rate: number;
  seconds: number;
  /** Where the result JSON (and the charts) go: default bench/results/scale. */
  out: string;
  /** Keep the stores of the earlier result in `out` that this run does not measure again. */
  merge: boolean;
}

export function parseOptions(argv: string[]): ScaleOptions {
  const value = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  const list = (name: string) => value(name)?.split(",").filter(Boolean);
  const smoke = argv.includes("--smoke");
  return {
    parts: list("--parts") ?? ["live", "gc", "users", "files"],
    sizes: (list("--sizes") ?? (smoke ? ["10000"] : ["10000", "100000", "1000000"])).map(Number),
    stores: list("--stores"),
    smoke,
    largeStores: smoke ? [] : (list("--large-stores") ?? []),
    largeSize: Number(value("--large-size") ?? 10_000_000),
    rate: Number(value("--rate") ?? (smoke ? 200 : 500)),
    seconds: Number(value("--seconds") ?? (smoke ? 1 : 5)),
    out: value("--out") ?? RESULTS_DIR,
    merge: argv.includes("--merge"),
  };
}

export interface Table {
  title: string;
  columns: string[];
  rows: (string | number)[][];
}

export interface Curve {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  logY?: boolean;
  series: { name: string; points: [number, number][] }[];
}

export interface PartResult {
  part: string;
  settings: object;
  env: { node: string; loadavg: number[]; cpu: string };
  tables: Table[];
  curves: Curve[];
}

export function environment(): PartResult["env"] {
  return { node: process.versions.node, loadavg: loadavg().map((n) => Number(n.toFixed(2))), cpu: `${cpus().length} × ${cpus()[0]?.model ?? "?"}` };
}

export function markdownTable(table: Table): string {
  const lines = [`### ${table.title}`, "", `| ${table.columns.join(" | ")} |`, `|${table.columns.map(() => "---").join("|")}|`];
  for (const row of table.rows) lines.push(`| ${row.join(" | ")} |`);
  return lines.join("\n");
}

/** Writes `bench/results/scale/<part>.json` and prints its tables as markdown. */
export function writeResult(result: PartResult, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${result.part}.json`);
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  for (const table of result.tables) console.log(`\n${markdownTable(table)}`);
  return path;
}

export function readResult(path: string): PartResult {
  return JSON.parse(readFileSync(path, "utf8")) as PartResult;
}

/**
 * The token of the n-th filled session: SHA-256 of "scale:n", base64url (43 characters, the
 * shape of a real token). Derived rather than kept, so a million tokens cost no memory and a SQL
 * server can compute the same ones in a bulk INSERT (see sqlToken in live.ts).
 */
export function tokenOf(n: number): string {
  return createHash("sha256").update(`scale:${n}`).digest("base64url");
}

/** The store key of the n-th filled session, as the manager computes it from the token. */
export function keyOf(n: number): string {
  return hashToken(tokenOf(n));
}

/** The value at quantile `q` (0..1) of ascending `sorted`. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

/** Microseconds of CPU (user + system) this process has used. */
export function processCpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** Microseconds of CPU (user + system) a process has used, from /proc/<pid>/stat; undefined if unreadable. */
export function procCpuMicros(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat(5))
    return (ticks / 100) * 1e6; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

export interface OpenLoopFigures {
  requests: number;
  /** The longest a request started after its scheduled time, in ms: large means this process was the bottleneck. */
  maxLagMs: number;
  elapsedMs: number;
}

/**
 * Starts `request(i)` at a fixed rate for `seconds`, whether or not earlier ones have answered
 * (open loop: a slow answer does not slow the clock, so queueing shows in the latencies).
 */
export async function openLoop(rate: number, seconds: number, request: (i: number) => Promise<void>): Promise<OpenLoopFigures> {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const pending: Promise<void>[] = [];
  const started = performance.now();
  let maxLagMs = 0;
  for (let i = 0; i < total; i++) {
    const due = started + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    maxLagMs = Math.max(maxLagMs, performance.now() - due);
    pending.push(request(i));
  }
  await Promise.all(pending);
  return { requests: total, maxLagMs, elapsedMs: performance.now() - started };
}

export const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

/**
 * Helpers the scale parts gc, users and files share (args, the JSON every part writes, latency
 * figures, SQL bulk fills on tables of their own); the JSON shape and its writer are lib.ts's.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import mysql from "mysql2/promise";
import pg from "pg";
import { encodeRecord } from "../../src/stores/file/record.js";
import { MYSQL_URL, POSTGRES_URL, REDIS_URL, reachable } from "../lib.js";
import type { Curve, Table } from "./lib.js";
import { environment, RESULTS_DIR, writeResult } from "./lib.js";

export const ALL_STORES = ["memory", "file", "redis", "redis-cluster", "postgres", "mysql", "sqlite"] as const;
export type StoreName = (typeof ALL_STORES)[number];

export interface PartArgs {
  smoke: boolean;
  /** The stores asked for and reachable, in ALL_STORES order. */
  stores: StoreName[];
  /** Stores asked for but not reachable (said in the output, not an error). */
  skipped: StoreName[];
}

const CLUSTER_NODES = process.env.REDIS_CLUSTER_NODES;

export function clusterNodes(): { host: string; port: number }[] {
  return (CLUSTER_NODES ?? "").split(",").filter(Boolean).map((address) => {
    const [host, port] = address.split(":");
    return { host: host!, port: Number(port) };
  });
}

async function isReachable(store: StoreName): Promise<boolean> {
  if (store === "redis") return reachable(REDIS_URL);
  if (store === "redis-cluster") return clusterNodes().length > 0 && reachable(`redis://${clusterNodes()[0]!.host}:${clusterNodes()[0]!.port}`);
  if (store === "postgres") return reachable(POSTGRES_URL);
  if (store === "mysql") return reachable(MYSQL_URL);
  return true;
}

/** `--stores a,b` (default `fallback`), `--smoke`; other options are the part's own. */
export async function partArgs(fallback: readonly StoreName[]): Promise<PartArgs> {
  const args = process.argv.slice(2);
  const listed = args.includes("--stores") ? args[args.indexOf("--stores") + 1]!.split(",") : [...fallback];
  const wanted = ALL_STORES.filter((store) => listed.includes(store) && fallback.includes(store));
  const stores: StoreName[] = [];
  const skipped: StoreName[] = [];
  for (const store of wanted) ((await isReachable(store)) ? stores : skipped).push(store);
  return { smoke: args.includes("--smoke"), stores, skipped };
}

/** `--name 1,2,3` as numbers, or `fallback`. */
export function numberList(name: string, fallback: number[]): number[] {
  const args = process.argv.slice(2);
  return args.includes(name) ? args[args.indexOf(name) + 1]!.split(",").filter(Boolean).map(Number) : fallback;
}

export type { Curve, Table } from "./lib.js";

/** Writes bench/results/scale/<part>.json (or into SCALE_RESULTS_DIR) in the layout's shape and prints the tables. */
export function writePart(part: string, settings: object, tables: Table[], curves: Curve[]): string {
  const path = writeResult({ part, settings, env: environment(), tables, curves }, process.env.SCALE_RESULTS_DIR ?? RESULTS_DIR);
  console.log(`\nwrote ${path}`);
  return path;
}

export { quantile as percentile } from "./lib.js";

export const ms = (value: number, digits = 2): number => Number(value.toFixed(digits));

export function log(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** Runs `work` and reports its wall time and the longest event-loop stall meanwhile (ms). */
export async function withStall<R>(work: () => Promise<R>): Promise<{ result: R; wallMs: number; maxStallMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const started = performance.now();
  try {
    const result = await work();
    const wallMs = performance.now() - started;
    // A stall is recorded when the sampling timer fires late: let it fire once after synchronous work.
    await new Promise((resolve) => setTimeout(resolve, 10));
    return { result, wallMs, maxStallMs: histogram.max / 1e6 };
  } finally {
    histogram.disable();
  }
}

/** A table name of this run (the caller drops it). */
export const privateName = (purpose: string): string => `sk_scale_${purpose}_${process.pid}_${Math.floor(Math.random() * 1e6)}`;

/** A DELETE: what gc sends (the traffic's reads and writes through the same pool are not timed). */
const isDelete = (statement: unknown) => /^\s*(WITH deleted AS \()?DELETE/i.test(typeof statement === "string" ? statement : String((statement as { text?: string })?.text ?? ""));

/** A pg pool whose query() records the longest single DELETE statement (ms) into `longest.ms`. */
export function timedPgPool(max: number, longest: { ms: number }): pg.Pool {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max });
  pool.on("error", () => {});
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  (pool as { query: unknown }).query = async (...args: unknown[]) => {
    if (!isDelete(args[0])) return query(...args);
    const started = performance.now();
    try {
      return await query(...args);
    } finally {
      longest.ms = Math.max(longest.ms, performance.now() - started);
    }
  };
  return pool;
}

/** A mysql2 pool whose query()/execute() record the longest single DELETE statement (ms) into `longest.ms`. */
export function timedMysqlPool(limit: number, longest: { ms: number }): mysql.Pool {
  const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: limit });
  for (const method of ["query", "execute"] as const) {
    const original = (pool[method] as (...args: unknown[]) => Promise<unknown>).bind(pool);
    (pool as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      if (!isDelete(args[0])) return original(...args);
      const started = performance.now();
      try {
        return await original(...args);
      } finally {
        longest.ms = Math.max(longest.ms, performance.now() - started);
      }
    };
  }
  return pool;
}

/**
 * Rows `<prefix><from..to>` through the server's own generator (one statement per million rows),
 * the bulk path, not the store: `owner` is an SQL expression of `g` or NULL. Row g expires at
 * expiresAt + g ms: distinct expiries, as real sessions have (10M equal ones would make one long
 * run of duplicates in the expiry index, which B-tree deduplication stores very differently).
 */
export async function fillPostgres(pool: pg.Pool, table: string, rows: { prefix: string; from: number; to: number; expiresAt: number; data: string; owner?: string }): Promise<void> {
  const owner = rows.owner ?? "NULL";
  for (let start = rows.from; start <= rows.to; start += 1_000_000) {
    const end = Math.min(rows.to, start + 999_999);
    await pool.query(
      `INSERT INTO "${table}" ("key", "data", "expires_at", "version", "user_id") SELECT $1 || g, convert_to($2, 'UTF8'), $3::bigint + g, 1, ${owner} FROM generate_series($4::int, $5::int) g`,
      [rows.prefix, rows.data, rows.expiresAt, start, end],
    );
  }
}

/** Multi-row INSERTs of 5,000 rows (MariaDB has no generate_series without the sequence engine); row i expires at expiresAt + i ms. */
export async function fillMysql(pool: mysql.Pool, table: string, rows: { prefix: string; from: number; to: number; expiresAt: number; data: string; owner?: (i: number) => string | null }): Promise<void> {
  for (let start = rows.from; start <= rows.to; start += 5000) {
    const batch = [];
    for (let i = start; i <= Math.min(rows.to, start + 4999); i++) batch.push([`${rows.prefix}${i}`, rows.data, rows.expiresAt + i, 1, rows.owner?.(i) ?? null]);
    await pool.query(`INSERT INTO \`${table}\` (\`key\`, \`data\`, \`expires_at\`, \`version\`, \`user_id\`) VALUES ?`, [batch]);
  }
}

/** A session's encoded data of the size the other benchmarks use (about 200 bytes). */
export const PAYLOAD = `0|${JSON.stringify({ user: "ada", roles: ["admin"], cart: "x".repeat(160) })}`;

/** The FileStore layout (<dir>/<2 hex>/<sha256 hex of the key>), written directly: the bulk path. */
export function writeSessionFiles(dir: string, prefix: string, count: number, expiresAt: number, owner?: (i: number) => string | undefined): void {
  const made = new Set<string>();
  for (let i = 1; i <= count; i++) {
    const name = createHash("sha256").update(`${prefix}${i}`).digest("hex");
    const sub = join(dir, name.slice(0, 2));
    if (!made.has(sub)) {
      mkdirSync(sub, { recursive: true, mode: 0o700 });
      made.add(sub);
    }
    writeFileSync(join(sub, name), encodeRecord({ data: PAYLOAD, expiresAt, version: 1, owner: owner?.(i) }), { mode: 0o600 });
  }
}


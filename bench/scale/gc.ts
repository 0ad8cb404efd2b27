/**
 * Expired backlog (issue 30): gc() of 100k / 1M (/ 10M on PostgreSQL) expired sessions beside
 * 100k live ones, while store-level load+commit traffic (get, then a compare-and-set write) runs
 * on the live ones; and four store instances running gc at once on the same data.
 *
 *   npx tsx bench/scale/gc.ts [--stores postgres,mysql,file,memory,sqlite] [--expired 100000,1000000] [--pg-expired 10000000] [--smoke]
 *
 * Fills go through each store's bulk path (generate_series, multi-row INSERT, one SQLite
 * transaction, files written directly), not through the store. Each run uses its own table,
 * file or directory and drops it afterwards. Writes bench/results/scale/gc.json.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import type { SessionStore } from "../../src/core/store.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { FileStore } from "../../src/stores/file.js";
import { MySQLStore } from "../../src/stores/mysql.js";
import { PostgresStore } from "../../src/stores/postgres.js";
import { SqliteStore } from "../../src/stores/sqlite.js";
import type { Curve, StoreName, Table } from "./part-kit.js";
import { PAYLOAD, fillMysql, fillPostgres, log, ms, numberList, partArgs, percentile, privateName, timedMysqlPool, timedPgPool, withStall, writePart, writeSessionFiles } from "./part-kit.js";

const GC_STORES: StoreName[] = ["memory", "file", "redis", "postgres", "mysql", "sqlite"];
const { smoke, stores, skipped } = await partArgs(GC_STORES);
const LIVE = smoke ? 200 : 100_000;
const EXPIRED = numberList("--expired", smoke ? [2_000] : [100_000, 1_000_000]);
const PG_EXTRA = numberList("--pg-expired", smoke ? [] : [10_000_000]);
const CONCURRENT_EXPIRED = smoke ? 2_000 : 100_000;
// FileStore removes about 1,300 expired files a second under traffic here (each under its lock):
// its million-file gc is measured by files.ts, without traffic; here it stops at 100k (20k for 4 instances).
const FILE_EXPIRED_CAP = 100_000;
const FILE_CONCURRENT_EXPIRED = smoke ? 2_000 : 20_000;
const INSTANCES = 4;
const TRAFFIC_LOOPS = 4;
const BASELINE_MS = smoke ? 300 : 3_000;
const HOUR = 3_600_000;

/** One store's data under test, refillable, with the instruments this part reads. */
interface Bed {
  store: SessionStore;
  /** Another store instance on the same data (another app instance), or undefined (memory). */
  another?: () => SessionStore;
  fill(expired: number, live: number): Promise<void>;
  /** The longest single driver statement since the last reset (SQL stores), ms. */
  longest?: { ms: number };
  /** What one gc batch is bounded by, in words. */
  bound: string;
  drop(): Promise<void>;
}

const openers: Partial<Record<StoreName, () => Promise<Bed>>> = {
  memory: async () => {
    const store = new MemoryStore();
    return {
      store,
      bound: "10,000 entries looked at per turn of the event loop (GC_SLICE)",
      async fill(expired, live) {
        // Written one millisecond from expiry, so they have expired once the fill ends.
        for (let i = 1; i <= expired; i++) store.set(`dead${i}`, { data: PAYLOAD, expiresAt: Date.now() + 1, version: 1, expectedVersion: 0 });
        for (let i = 1; i <= live; i++) store.set(`live${i}`, { data: PAYLOAD, expiresAt: Date.now() + HOUR, version: 1, expectedVersion: 0 });
        await new Promise((resolve) => setTimeout(resolve, 5));
      },
      drop: async () => store.close(),
    };
  },
  file: async () => {
    const dir = await mkdtemp(join(tmpdir(), "sk-scale-gc-"));
    const store = new FileStore({ dir });
    return {
      store,
      another: () => new FileStore({ dir }),
      bound: "32 files at a time (SCAN_CONCURRENCY), each removed under its own lock",
      async fill(expired, live) {
        writeSessionFiles(dir, "dead", expired, 1);
        writeSessionFiles(dir, "live", live, Date.now() + HOUR);
      },
      drop: () => rm(dir, { recursive: true, force: true }),
    };
  },
  sqlite: async () => {
    const dir = await mkdtemp(join(tmpdir(), "sk-scale-gc-"));
    const path = join(dir, "sessions.db");
    const store = new SqliteStore({ path });
    await store.count(); // creates the table
    return {
      store,
      another: () => new SqliteStore({ path }),
      bound: "gcBatchSize rows (default 1000) per DELETE, yielding to the event loop between batches",
      async fill(expired, live) {
        const db = openSqlite(path);
        const insert = `WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ?) INSERT INTO "sessions" SELECT ? || i, ?, ?, 1, NULL FROM g`;
        db.exec("BEGIN");
        try {
          fillSqlite(db, insert, "dead", expired, 1);
          fillSqlite(db, insert, "live", live, Date.now() + HOUR);
          db.exec("COMMIT");
        } finally {
          db.close();
        }
      },
      drop: async () => (await store.close(), await rm(dir, { recursive: true, force: true })),
    };
  },
  postgres: async () => {
    const longest = { ms: 0 };
    const pool = timedPgPool(8, longest);
    const tableName = privateName("gc");
    const store = new PostgresStore({ pool, tableName });
    await store.count();
    const pools = [pool];
    return {
      store,
      longest,
      another: () => {
        const other = timedPgPool(2, longest);
        pools.push(other);
        return new PostgresStore({ pool: other, tableName });
      },
      bound: "gcBatchSize rows (default 1000) per DELETE … ORDER BY expires_at LIMIT … FOR UPDATE SKIP LOCKED, each from the last expiry the batch before deleted",
      async fill(expired, live) {
        await fillPostgres(pool, tableName, { prefix: "dead", from: 1, to: expired, expiresAt: 1, data: PAYLOAD });
        await fillPostgres(pool, tableName, { prefix: "live", from: 1, to: live, expiresAt: Date.now() + HOUR, data: PAYLOAD });
        await pool.query(`VACUUM ANALYZE "${tableName}"`);
      },
      async drop() {
        await pool.query(`DROP TABLE IF EXISTS "${tableName}"`);
        for (const each of pools) await each.end();
      },
    };
  },
  mysql: async () => {
    const longest = { ms: 0 };
    const pool = timedMysqlPool(8, longest);
    const tableName = privateName("gc");
    const store = new MySQLStore({ pool, tableName });
    await store.count();
    const pools = [pool];
    return {
      store,
      longest,
      another: () => {
        const other = timedMysqlPool(2, longest);
        pools.push(other);
        return new MySQLStore({ pool: other, tableName });
      },
      bound: "gcBatchSize rows (default 1000) per DELETE … ORDER BY expires_at LIMIT",
      async fill(expired, live) {
        await fillMysql(pool, tableName, { prefix: "dead", from: 1, to: expired, expiresAt: 1, data: PAYLOAD });
        await fillMysql(pool, tableName, { prefix: "live", from: 1, to: live, expiresAt: Date.now() + HOUR, data: PAYLOAD });
        await pool.query(`ANALYZE TABLE \`${tableName}\``);
      },
      async drop() {
        await pool.query(`DROP TABLE IF EXISTS \`${tableName}\``);
        for (const each of pools) await each.end();
      },
    };
  },
};

interface SqliteHandle {
  exec(sql: string): void;
  prepare(sql: string): { run(...values: unknown[]): unknown };
  close(): void;
}

/** node:sqlite where this Node has it, else better-sqlite3 (as SqliteStore itself chooses). */
function openSqlite(path: string): SqliteHandle {
  const builtin = process.getBuiltinModule?.("node:sqlite") as { DatabaseSync: new (path: string) => SqliteHandle } | undefined;
  if (builtin) return new builtin.DatabaseSync(path);
  const Database = createRequire(import.meta.url)("better-sqlite3") as new (path: string) => SqliteHandle;
  return new Database(path);
}

function fillSqlite(db: SqliteHandle, insert: string, prefix: string, count: number, expiresAt: number): void {
  // Plain "?" in order of appearance: better-sqlite3 (Node 20) refuses numbered ones given as a list.
  if (count > 0) db.prepare(insert).run(count, prefix, PAYLOAD, expiresAt);
}

interface Traffic {
  stop(): Promise<{ p50: number; p99: number; requests: number; errors: number }>;
}

/** TRAFFIC_LOOPS loops of get + compare-and-set write on random live sessions (what load+commit asks of a store). */
function traffic(store: SessionStore, live: number): Traffic {
  let running = true;
  let errors = 0;
  const latencies: number[] = [];
  const loop = async () => {
    while (running) {
      const key = `live${1 + Math.floor(Math.random() * live)}`;
      const started = performance.now();
      try {
        const record = await store.get(key);
        if (!record) throw new Error(`live session ${key} did not load`);
        await store.set(key, { data: PAYLOAD, expiresAt: Date.now() + HOUR, version: record.version + 1, expectedVersion: record.version });
      } catch {
        errors++;
      }
      latencies.push(performance.now() - started);
      // A synchronous store (memory) would otherwise never let timers or gc run.
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const loops = Array.from({ length: TRAFFIC_LOOPS }, loop);
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      latencies.sort((a, b) => a - b);
      return { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), requests: latencies.length, errors };
    },
  };
}

const backlogRows: (string | number)[][] = [];
const concurrentRows: (string | number)[][] = [];
const boundRows: (string | number)[][] = [];
const gcCurve: Curve = { id: "gc-time-vs-expired", title: "gc() time vs expired sessions (100k live, traffic running)", xLabel: "expired sessions", yLabel: "gc time (s)", logX: true, logY: true, series: [] };

async function backlog(name: StoreName, expired: number): Promise<number> {
  const bed = await openers[name]!();
  try {
    const fillStart = performance.now();
    await bed.fill(expired, LIVE);
    const fillS = (performance.now() - fillStart) / 1000;
    log(`${name}: filled ${expired} expired + ${LIVE} live in ${fillS.toFixed(1)} s`);
    const idle = traffic(bed.store, LIVE);
    await new Promise((resolve) => setTimeout(resolve, BASELINE_MS));
    const without = await idle.stop();
    const busy = traffic(bed.store, LIVE);
    await new Promise((resolve) => setImmediate(resolve));
    if (bed.longest) bed.longest.ms = 0;
    const run = await withStall(async () => bed.store.gc!());
    const during = await busy.stop();
    const removed = run.result;
    const longestMs = bed.longest ? ms(bed.longest.ms, 1) : "—";
    log(`${name}: gc removed ${removed}/${expired} in ${(run.wallMs / 1000).toFixed(2)} s`);
    backlogRows.push([
      name, expired, LIVE, ms(fillS, 1), removed, ms(run.wallMs / 1000, 2), Math.round(removed / (run.wallMs / 1000)),
      longestMs, ms(run.maxStallMs, 1), ms(without.p50), ms(without.p99), ms(during.p50), ms(during.p99), during.requests, during.errors,
    ]);
    return run.wallMs / 1000;
  } finally {
    await bed.drop();
  }
}

/** gc from one instance, then (refilled) from INSTANCES at once: removed total and time. */
async function concurrent(name: StoreName): Promise<void> {
  const bed = await openers[name]!();
  try {
    if (!bed.another) return;
    const expired = name === "file" ? FILE_CONCURRENT_EXPIRED : CONCURRENT_EXPIRED;
    await bed.fill(expired, LIVE);
    const single = await withStall(async () => bed.store.gc!());
    await bed.fill(expired, 0);
    const instances = [bed.store, ...Array.from({ length: INSTANCES - 1 }, bed.another)];
    const errors: string[] = [];
    const started = performance.now();
    const removed = await Promise.all(instances.map((store) => Promise.resolve(store.gc!()).catch((error: unknown) => (errors.push(String(error).slice(0, 80)), 0))));
    const wallS = (performance.now() - started) / 1000;
    const total = removed.reduce((sum, n) => sum + n, 0);
    log(`${name}: ${INSTANCES} instances removed ${total}/${expired} (${removed.join("+")}) in ${wallS.toFixed(2)} s`);
    concurrentRows.push([
      name, expired, single.result, ms(single.wallMs / 1000), total, removed.join(" + "), ms(wallS), ms(wallS / (single.wallMs / 1000)), errors.length, errors[0] ?? "",
    ]);
    for (const store of instances.slice(1)) await store.close?.();
  } finally {
    await bed.drop();
  }
}

for (const name of stores) {
  if (name === "redis") continue;
  const bed = await openers[name]!();
  boundRows.push([name, bed.bound]);
  await bed.drop();
  const points: [number, number][] = [];
  const sizes = name === "postgres" ? [...EXPIRED, ...PG_EXTRA] : name === "file" ? EXPIRED.filter((n) => n <= FILE_EXPIRED_CAP) : EXPIRED;
  for (const expired of sizes) points.push([expired, await backlog(name, expired)]);
  gcCurve.series.push({ name, points });
  await concurrent(name);
}
if (stores.includes("redis")) boundRows.push(["redis", "no gc: every record has a PEXPIREAT, so Redis removes it itself; a user's index entries are pruned when listSessions reads them"]);

const tables: Table[] = [
  {
    title: `gc() of an expired backlog beside ${LIVE} live sessions, ${TRAFFIC_LOOPS} loops of get+set on live sessions`,
    columns: [
      "store", "expired", "live", "fill (s)", "removed", "gc (s)", "rows/s", "longest gc statement (ms)", "longest event-loop stall (ms)",
      "traffic p50 without gc (ms)", "p99 without", "p50 during gc", "p99 during", "requests during gc", "errors",
    ],
    rows: backlogRows,
  },
  {
    title: `${INSTANCES} instances run gc() at once (${CONCURRENT_EXPIRED} expired sessions; file ${FILE_CONCURRENT_EXPIRED}), after one instance alone on as many`,
    columns: ["store", "expired", "one instance removed", "one instance (s)", `${INSTANCES} instances removed`, "split", `${INSTANCES} instances (s)`, "time ratio", "errors", "first error"],
    rows: concurrentRows,
  },
  { title: "What bounds one gc step", columns: ["store", "bound"], rows: boundRows },
];
writePart("gc", { smoke, live: LIVE, expired: EXPIRED, pgExpired: PG_EXTRA, fileExpiredCap: FILE_EXPIRED_CAP, concurrentExpired: CONCURRENT_EXPIRED, fileConcurrentExpired: FILE_CONCURRENT_EXPIRED, instances: INSTANCES, trafficLoops: TRAFFIC_LOOPS, skipped }, tables, [gcCurve]);

/**
 * How long gc() takes to remove 100,000 expired sessions from PostgreSQL and MariaDB/MySQL while
 * reads of live sessions continue, and what those reads see meanwhile.
 *
 *   npx tsx bench/gc-sql.ts            (POSTGRES_URL / MYSQL_URL as in the tests; EXPIRED=100000 READERS=4)
 *
 * Prints figures; asserts nothing. Each run uses its own table and drops it afterwards.
 */
import mysql from "mysql2/promise";
import pg from "pg";
import type { SessionStore } from "../src/core/store.js";
import { MySQLStore } from "../src/stores/mysql.js";
import { PostgresStore } from "../src/stores/postgres.js";
import { MYSQL_URL, POSTGRES_URL, reachable, sleep } from "./lib.js";

const EXPIRED = Number(process.env.EXPIRED ?? 100_000);
const LIVE = 1_000;
const READERS = Number(process.env.READERS ?? 4);
const BATCH_SIZES = [1000, 10_000];
const PAYLOAD = `0|${JSON.stringify({ user: "ada", roles: ["admin"], cart: "x".repeat(160) })}`;

interface Target {
  name: string;
  url: string;
  /** Makes the store (table created), fills it, and returns it with a function that drops the table. */
  prepare(table: string, batchSize: number): Promise<{ store: SessionStore; drop: () => Promise<void> }>;
}

const postgres: Target = {
  name: "PostgreSQL",
  url: POSTGRES_URL,
  async prepare(table, gcBatchSize) {
    const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    const store = new PostgresStore({ connectionString: POSTGRES_URL, tableName: table, gcBatchSize });
    await store.count();
    const insert = `INSERT INTO "${table}" SELECT $1 || g, convert_to($2, 'UTF8'), $3::bigint, 1 FROM generate_series(1, $4::int) g`;
    await admin.query(insert, ["dead", PAYLOAD, 1, EXPIRED]);
    await admin.query(insert, ["live", PAYLOAD, Date.now() + 3_600_000, LIVE]);
    await admin.query(`VACUUM ANALYZE "${table}"`);
    const drop = async () => {
      await store.close();
      await admin.query(`DROP TABLE "${table}"`);
      await admin.end();
    };
    return { store, drop };
  },
};

const mariadb: Target = {
  name: "MariaDB/MySQL",
  url: MYSQL_URL,
  async prepare(table, gcBatchSize) {
    const admin = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 1 });
    const store = new MySQLStore({ uri: MYSQL_URL, tableName: table, gcBatchSize });
    await store.count();
    const fill = async (prefix: string, count: number, expiresAt: number) => {
      for (let start = 1; start <= count; start += 5000) {
        const rows = Array.from({ length: Math.min(5000, count - start + 1) }, (_, i) => [`${prefix}${start + i}`, PAYLOAD, expiresAt, 1]);
        await admin.query(`INSERT INTO \`${table}\` (\`key\`, \`data\`, \`expires_at\`, \`version\`) VALUES ?`, [rows]);
      }
    };
    await fill("dead", EXPIRED, 1);
    await fill("live", LIVE, Date.now() + 3_600_000);
    await admin.query(`ANALYZE TABLE \`${table}\``);
    const drop = async () => {
      await store.close();
      await admin.query(`DROP TABLE \`${table}\``);
      await admin.end();
    };
    return { store, drop };
  },
};

interface ReadFigures {
  reads: number;
  maxMs: number;
  p99Ms: number;
}

/** Reads random live sessions with READERS concurrent loops until `until` settles. */
async function readWhile(store: SessionStore, until: Promise<unknown>): Promise<ReadFigures> {
  let done = false;
  void until.finally(() => (done = true));
  const latencies: number[] = [];
  const reader = async () => {
    while (!done) {
      const started = performance.now();
      const found = await store.get(`live${1 + Math.floor(Math.random() * LIVE)}`);
      latencies.push(performance.now() - started);
      if (!found) throw new Error("a live session did not load during gc");
    }
  };
  await Promise.all(Array.from({ length: READERS }, reader));
  latencies.sort((a, b) => a - b);
  return {
    reads: latencies.length,
    maxMs: latencies.at(-1) ?? 0,
    p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
  };
}

const fixed = (value: number) => value.toFixed(1);

async function measure(target: Target, batchSize: number): Promise<void> {
  const table = `sk_gc_bench_${process.pid}_${batchSize}`;
  const { store, drop } = await target.prepare(table, batchSize);
  try {
    const baseline = await readWhile(store, sleep(1_000));
    const started = performance.now();
    const gc = Promise.resolve(store.gc!());
    const during = await readWhile(store, gc);
    const removed = await gc;
    const gcMs = performance.now() - started;
    const perSecond = (figures: ReadFigures, ms: number) => Math.round((figures.reads / ms) * 1000);
    console.log(
      `${target.name.padEnd(14)} batch ${String(batchSize).padStart(5)}: gc removed ${removed} in ${fixed(gcMs)} ms` +
        ` (${Math.round(removed / (gcMs / 1000))} rows/s) | reads during gc: ${during.reads} (${perSecond(during, gcMs)}/s),` +
        ` p99 ${fixed(during.p99Ms)} ms, max ${fixed(during.maxMs)} ms | idle baseline: ${perSecond(baseline, 1000)}/s,` +
        ` p99 ${fixed(baseline.p99Ms)} ms, max ${fixed(baseline.maxMs)} ms`,
    );
    if (removed !== EXPIRED) console.log(`  !! expected ${EXPIRED} removed, got ${removed}`);
  } finally {
    await drop();
  }
}

console.log(`gc of ${EXPIRED} expired rows (+${LIVE} live), ${READERS} concurrent readers, payload ${PAYLOAD.length} bytes`);
for (const target of [postgres, mariadb]) {
  if (!(await reachable(target.url))) {
    console.log(`${target.name}: not reachable at ${target.url}, skipped`);
    continue;
  }
  for (const batchSize of BATCH_SIZES) await measure(target, batchSize);
}

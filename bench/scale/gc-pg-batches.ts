/**
 * Times every DELETE of one PostgreSQL gc() run on N expired rows (no traffic): mean per tenth of
 * the run, p99, max and the five slowest batches by index — whether batch time grows as the run
 * goes on. Own table, dropped afterwards. Figures in bench/README.md ("Expired backlog").
 *
 *   npx tsx bench/scale/gc-pg-batches.ts [N=1000000]
 */
import { PostgresStore } from "../../src/stores/postgres.js";
import { fillPostgres, PAYLOAD, timedPgPool } from "./part-kit.js";
const longest = { ms: 0 };
const pool = timedPgPool(4, longest);
const times: number[] = [];
const q = pool.query.bind(pool) as (...a: unknown[]) => Promise<unknown>;
(pool as { query: unknown }).query = async (...a: unknown[]) => { const t = performance.now(); try { return await q(...a); } finally { if (String((a[0] as { text?: string })?.text ?? a[0]).includes("DELETE FROM")) times.push(performance.now() - t); } };
const tableName = `sk_scale_probe_${process.pid}`;
const store = new PostgresStore({ pool, tableName });
await store.count();
const N = Number(process.argv[2] ?? 1_000_000);
await fillPostgres(pool, tableName, { prefix: "dead", from: 1, to: N, expiresAt: 1, data: PAYLOAD });
await pool.query(`VACUUM ANALYZE "${tableName}"`);
const started = performance.now();
const removed = await store.gc();
const total = performance.now() - started;
const decile = (i: number) => { const part = times.slice(Math.floor(times.length * i / 10), Math.floor(times.length * (i + 1) / 10)); return (part.reduce((a, b) => a + b, 0) / part.length).toFixed(1); };
const sorted = [...times].sort((a, b) => a - b);
console.log({ removed, totalS: (total / 1000).toFixed(1), batches: times.length, meanByDecile: Array.from({ length: 10 }, (_, i) => decile(i)), p99: sorted[Math.floor(sorted.length * 0.99)]!.toFixed(1), max: sorted.at(-1)!.toFixed(1), worst5: times.map((t, i) => [i, Math.round(t)]).sort((a, b) => b[1]! - a[1]!).slice(0, 5) });
await pool.query(`DROP TABLE "${tableName}"`);
await pool.end();

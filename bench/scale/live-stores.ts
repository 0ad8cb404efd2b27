/**
 * The stores the live part of `npm run bench:scale` grows, each on a namespace of its own (a key
 * prefix, a table, a directory) that cleanup() removes. For each: a bulk fill in the store's own
 * format (server-side where the server can compute the keys: PostgreSQL generate_series, MariaDB's
 * sequence tables), what one session occupies, and what count() does there.
 */
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Cluster } from "ioredis";
import mysql from "mysql2/promise";
import pg from "pg";
import { createClient } from "redis";
import type { SessionStore, StoredSession } from "../../src/index.js";
import { MemoryStore } from "../../src/index.js";
import { FileStore } from "../../src/stores/file.js";
import { encodeRecord } from "../../src/stores/file/record.js";
import { MySQLStore } from "../../src/stores/mysql.js";
import { PostgresStore } from "../../src/stores/postgres.js";
import { RedisStore } from "../../src/stores/redis.js";
import { SqliteStore } from "../../src/stores/sqlite.js";
import { MYSQL_URL, POSTGRES_URL, reachable, REDIS_URL } from "../lib.js";
import { keyOf, procCpuMicros } from "./lib.js";

export const unique = (): string => randomBytes(4).toString("hex");

export interface Footprint {
  bytesPerSession: number;
  /** How the figure was taken. */
  method: string;
  /** A second reading where the store offers one (Redis MEMORY USAGE beside the used_memory delta). */
  sampledBytes?: number;
}

export interface LiveSubject {
  store: SessionStore;
  /** What count() does on this store, in words. */
  countMethod: string;
  /** Writes sessions [from, to) in the store's own format, in bulk, each a copy of `template`. */
  fill(from: number, to: number, template: StoredSession): Promise<void>;
  footprint(n: number): Promise<Footprint>;
  /** CPU the server has spent so far, in µs, where it can be read (undefined otherwise). */
  serverCpuMicros?(): Promise<number | undefined>;
  cleanup(): Promise<void>;
}

export interface SubjectFactory {
  name: string;
  /** Undefined for in-process stores. */
  url?: string;
  open(): Promise<LiveSubject>;
}

const FILL_CHUNK = 5_000;

/** Runs `write(from, to)` over [from, to) in chunks of `size`. */
export async function inChunks(from: number, to: number, size: number, write: (start: number, end: number) => Promise<void> | void): Promise<void> {
  for (let start = from; start < to; start += size) await write(start, Math.min(to, start + size));
}

/** A copy of the template's data in its own string (a real store holds one string per session, not one shared). */
const ownCopy = (data: string): string => data.slice(0, 1) + data.slice(1);

const memory: SubjectFactory = {
  name: "memory",
  async open() {
    const heap = () => (globalThis.gc?.(), process.memoryUsage().heapUsed);
    const store = new MemoryStore();
    const before = heap();
    return {
      store,
      countMethod: "walks every record of the Map to skip expired ones: O(N), in-process",
      async fill(from, to, template) {
        for (let n = from; n < to; n++) {
          store.set(keyOf(n), { data: ownCopy(template.data), expiresAt: template.expiresAt, version: 1, expectedVersion: 0 });
        }
      },
      async footprint(n) {
        if (!globalThis.gc) return { bytesPerSession: Number.NaN, method: "needs node --expose-gc" };
        return { bytesPerSession: (heap() - before) / n, method: "V8 heap delta / N (after global.gc())" };
      },
      cleanup: async () => void store.close(),
    };
  },
};

/** Disk bytes (allocated blocks, directories included) under `dir`, as `du` counts them. */
const diskBytes = (dir: string): number => Number(execFileSync("du", ["-s", "-B1", dir], { encoding: "utf8" }).split("\t")[0]);

const file: SubjectFactory = {
  name: "file",
  async open() {
    const dir = await mkdtemp(join(tmpdir(), "sessionkit-scale-live-"));
    const store = new FileStore({ dir });
    for (let i = 0; i < 256; i++) mkdirSync(join(dir, i.toString(16).padStart(2, "0")), { mode: 0o700 });
    return {
      store,
      countMethod: "reads the header of every file in every sub-directory: O(N) file reads",
      async fill(from, to, template) {
        const bytes = encodeRecord({ data: template.data, expiresAt: template.expiresAt, version: 1 });
        // 64 writes at a time: libuv's thread pool overlaps them.
        await inChunks(from, to, 64, async (start, end) => {
          const writes: Promise<void>[] = [];
          for (let n = start; n < end; n++) {
            const name = createHash("sha256").update(keyOf(n)).digest("hex");
            writes.push(writeFile(join(dir, name.slice(0, 2), name), bytes, { mode: 0o600 }));
          }
          await Promise.all(writes);
        });
      },
      async footprint(n) {
        return { bytesPerSession: diskBytes(dir) / n, method: "du -B1 of the directory (blocks incl. directories) / N" };
      },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
};

const sqlite: SubjectFactory = {
  name: "sqlite",
  async open() {
    const dir = await mkdtemp(join(tmpdir(), "sessionkit-scale-live-"));
    const path = join(dir, "sessions.db");
    const store = new SqliteStore({ path, tableName: "sessions" });
    await store.count(); // creates the table
    const bulk = new Database(path);
    const insert = bulk.prepare(`INSERT INTO "sessions" ("key", "data", "expires_at", "version") VALUES (?, ?, ?, 1)`);
    return {
      store,
      countMethod: `SELECT count(*) WHERE expires_at > now: a range scan of the expires_at index, O(N)`,
      async fill(from, to, template) {
        await inChunks(from, to, 100_000, (start, end) => {
          bulk.transaction(() => {
            for (let n = start; n < end; n++) insert.run(keyOf(n), template.data, template.expiresAt);
          })();
        });
        bulk.pragma("wal_checkpoint(TRUNCATE)");
      },
      async footprint(n) {
        bulk.pragma("wal_checkpoint(TRUNCATE)");
        return { bytesPerSession: diskBytes(dir) / n, method: "du -B1 of the database file and its WAL / N (table + 2 indexes)" };
      },
      async cleanup() {
        bulk.close();
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

/** Reads `field` (bytes) from INFO memory. */
const usedMemory = (info: string): number => Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
const usedCpu = (info: string): number =>
  (Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1])) * 1e6;

/** Mean MEMORY USAGE of up to `samples` keys spread over [0, n). */
async function sampledUsage(n: number, usage: (n: number) => Promise<number>, samples = 200): Promise<number> {
  let total = 0;
  const count = Math.min(samples, n);
  for (let i = 0; i < count; i++) total += await usage(Math.floor((i * n) / count));
  return total / count;
}

/** One command in the Redis protocol (RESP), as `redis-cli --pipe` reads it. */
const resp = (words: string[]) => `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join("")}`;

/**
 * Mass insertion as Redis documents it (redis-cli --pipe): the commands of sessions [from, to)
 * streamed to one redis-cli, several times faster than a client's round trips.
 */
async function pipeToRedis(from: number, to: number, commands: (n: number) => string): Promise<void> {
  const { hostname, port } = new URL(REDIS_URL);
  const cli = spawn("redis-cli", ["-h", hostname, "-p", port || "6379", "--pipe"], { stdio: ["pipe", "pipe", "inherit"] });
  let output = "";
  cli.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => cli.on("close", resolve));
  await inChunks(from, to, FILL_CHUNK, async (start, end) => {
    let text = "";
    for (let n = start; n < end; n++) text += commands(n);
    if (!cli.stdin.write(text)) await once(cli.stdin, "drain");
  });
  cli.stdin.end();
  if ((await exited) !== 0 || !/errors: 0,/.test(output)) throw new Error(`redis-cli --pipe failed: ${output}`);
}

const redis: SubjectFactory = {
  name: "redis",
  url: REDIS_URL,
  async open() {
    const client = createClient({ url: REDIS_URL });
    client.on("error", () => {});
    await client.connect();
    const prefix = `scale-live:${unique()}:`;
    const info = async (section: string) => String(await client.sendCommand(["INFO", section]));
    const before = usedMemory(await info("memory"));
    return {
      store: new RedisStore({ client, prefix }),
      countMethod: "SCAN MATCH prefix* over the whole keyspace (COUNT 1000 a round trip): O(every key in the database, other apps' too)",
      async fill(from, to, template) {
        const expiresAt = String(template.expiresAt);
        await pipeToRedis(from, to, (n) => {
          const key = prefix + keyOf(n);
          return resp(["HSET", key, "d", template.data, "e", expiresAt, "v", "1"]) + resp(["PEXPIREAT", key, expiresAt]);
        });
      },
      async footprint(n) {
        const sampledBytes = await sampledUsage(n, async (i) => Number(await client.sendCommand(["MEMORY", "USAGE", prefix + keyOf(i), "SAMPLES", "0"])));
        const delta = (usedMemory(await info("memory")) - before) / n;
        return { bytesPerSession: delta, sampledBytes, method: "INFO used_memory delta / N (shared server: noisy); MEMORY USAGE sampled beside it" };
      },
      serverCpuMicros: async () => usedCpu(await info("cpu")),
      async cleanup() {
        for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 5000 })) if (keys.length > 0) await client.unlink(keys);
        await client.close();
      },
    };
  },
};

const CLUSTER_NODES = (process.env.REDIS_CLUSTER_NODES ?? "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103").split(",").map((address) => {
  const [host, port] = address.split(":");
  return { host: host!, port: Number(port) };
});

const redisCluster: SubjectFactory = {
  name: "redis-cluster",
  url: `redis://${CLUSTER_NODES[0]!.host}:${CLUSTER_NODES[0]!.port}`,
  async open() {
    const client = new Cluster(CLUSTER_NODES, { enableAutoPipelining: true });
    await new Promise((resolve, reject) => (client.once("ready", resolve), client.once("error", reject)));
    const prefix = `scale-live:${unique()}:`;
    const masters = () => client.nodes("master");
    const sumInfo = async (section: string, read: (info: string) => number) =>
      (await Promise.all(masters().map(async (node) => read(await node.info(section))))).reduce((a, b) => a + b, 0);
    const before = await sumInfo("memory", usedMemory);
    return {
      store: new RedisStore({ client, prefix }),
      countMethod: "SCAN MATCH prefix* on every master: O(every key in the cluster)",
      async fill(from, to, template) {
        await inChunks(from, to, FILL_CHUNK, async (start, end) => {
          const writes: Promise<unknown>[] = [];
          for (let n = start; n < end; n++) {
            const key = prefix + keyOf(n);
            writes.push(client.hset(key, "d", template.data, "e", String(template.expiresAt), "v", "1"), client.pexpireat(key, template.expiresAt));
          }
          await Promise.all(writes);
        });
      },
      async footprint(n) {
        const sampledBytes = await sampledUsage(n, async (i) => Number(await client.call("MEMORY", "USAGE", prefix + keyOf(i), "SAMPLES", "0")));
        const delta = ((await sumInfo("memory", usedMemory)) - before) / n;
        return { bytesPerSession: delta, sampledBytes, method: "sum of the masters' INFO used_memory delta / N; MEMORY USAGE sampled beside it" };
      },
      serverCpuMicros: () => sumInfo("cpu", usedCpu),
      async cleanup() {
        for (const node of masters()) {
          const stream = node.scanStream({ match: `${prefix}*`, count: 5000 });
          for await (const keys of stream as AsyncIterable<string[]>) await Promise.all(keys.map((key) => node.unlink(key)));
        }
        await client.quit();
      },
    };
  },
};

/** base64url(SHA-256(text)) in SQL, as node's digest("base64url"): the token, then the key, of session n. */
const pgBase64url = (text: string) => `rtrim(translate(encode(sha256(convert_to(${text}, 'UTF8')), 'base64'), '+/', '-_'), '=')`;
export const pgKeyOf = (n: string): string => pgBase64url(pgBase64url(`'scale:' || ${n}`));
const myBase64url = (text: string) => `TRIM(TRAILING '=' FROM REPLACE(REPLACE(TO_BASE64(UNHEX(SHA2(${text}, 256))), '+', '-'), '/', '_'))`;
export const mysqlKeyOf = (n: string): string => myBase64url(myBase64url(`CONCAT('scale:', ${n})`));

/** Bytes of a PostgreSQL table with its TOAST and indexes. */
export async function pgTableBytes(pool: pg.Pool, table: string): Promise<number> {
  const { rows } = await pool.query<{ size: string }>("SELECT pg_total_relation_size($1) AS size", [table]);
  return Number(rows[0]!.size);
}

/** Bytes of an InnoDB table with its indexes, from fresh statistics. */
export async function innodbTableBytes(pool: mysql.Pool, table: string): Promise<number> {
  await pool.query(`ANALYZE TABLE \`${table}\``);
  const [rows] = await pool.query<mysql.RowDataPacket[]>(
    "SELECT data_length + index_length AS size FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
    [table],
  );
  return Number(rows[0]!.size);
}

const postgres: SubjectFactory = {
  name: "postgres",
  url: POSTGRES_URL,
  async open() {
    const applicationName = `sk-scale-live-${process.pid}`;
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 10, application_name: applicationName });
    const table = `scale_live_${unique()}`;
    const store = new PostgresStore({ pool, tableName: table });
    await store.count(); // creates the table and its indexes
    const backends = async () =>
      (await pool.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [applicationName])).rows.map((row) => row.pid);
    return {
      store,
      countMethod: "SELECT count(*) WHERE expires_at > now: a scan of every live row (index-only scan of expires_at at best), O(N)",
      async fill(from, to, template) {
        await inChunks(from, to, 1_000_000, async (start, end) => {
          await pool.query(
            `INSERT INTO "${table}" ("key", "data", "expires_at", "version") SELECT ${pgKeyOf("g")}, convert_to($1, 'UTF8'), $2::bigint, 1 FROM generate_series($3::int, $4::int) g`,
            [template.data, template.expiresAt, start, end - 1],
          );
        });
        await pool.query(`VACUUM ANALYZE "${table}"`);
      },
      async footprint(n) {
        return { bytesPerSession: (await pgTableBytes(pool, table)) / n, method: "pg_total_relation_size (table, TOAST, both indexes) / N" };
      },
      async serverCpuMicros() {
        const pids = await backends();
        return pids.reduce((sum, pid) => sum + (procCpuMicros(pid) ?? 0), 0);
      },
      async cleanup() {
        await pool.query(`DROP TABLE IF EXISTS "${table}"`);
        await pool.end();
      },
    };
  },
};

const mariadb: SubjectFactory = {
  name: "mysql",
  url: MYSQL_URL,
  async open() {
    const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 10 });
    const table = `scale_live_${unique()}`;
    const store = new MySQLStore({ pool, tableName: table });
    await store.count();
    return {
      store,
      countMethod: "SELECT COUNT(*) WHERE expires_at > now: a range scan of the expires_at index, O(N)",
      async fill(from, to, template) {
        // MariaDB's Sequence engine (seq_A_to_B) is the generate_series: the keys are computed by the server.
        await inChunks(from, to, 250_000, async (start, end) => {
          await pool.query(
            `INSERT INTO \`${table}\` (\`key\`, \`data\`, \`expires_at\`, \`version\`) SELECT ${mysqlKeyOf("seq")}, ?, ?, 1 FROM seq_${start}_to_${end - 1}`,
            [template.data, template.expiresAt],
          );
        });
      },
      async footprint(n) {
        return { bytesPerSession: (await innodbTableBytes(pool, table)) / n, method: "information_schema data_length + index_length after ANALYZE TABLE / N" };
      },
      async cleanup() {
        await pool.query(`DROP TABLE IF EXISTS \`${table}\``);
        await pool.end();
      },
    };
  },
};

export const factories: SubjectFactory[] = [memory, file, sqlite, redis, redisCluster, postgres, mariadb];

/** The factories selected by name (all when `names` is undefined) whose server answers. */
export async function reachableFactories(names: string[] | undefined): Promise<SubjectFactory[]> {
  const chosen = factories.filter((f) => !names || names.includes(f.name));
  const up = await Promise.all(chosen.map((f) => (f.url ? reachable(f.url) : Promise.resolve(true))));
  return chosen.filter((f, i) => {
    if (!up[i]) console.error(`[scale live] ${f.name}: not reachable at ${f.url}, skipped`);
    return up[i];
  });
}

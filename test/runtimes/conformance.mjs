/* global Bun, Deno -- run by bun and deno, never by Node */
// The store conformance suite on Bun or Deno, through the built package as an app imports it:
// `bun test/runtimes/conformance.mjs memory redis ...` / `deno run -A test/runtimes/conformance.mjs ...`.
// Runs every case of each named store, stores side by side, and prints one JSON line:
// { runtime, stores: { name: { passed, failed: [{ case, error }], skipped: [{ case, note }] } } }.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStore } from "sessionkit";
import { conformanceCases } from "sessionkit/testing";

const env = (name, fallback) => (globalThis.Deno ? Deno.env.get(name) : process.env[name]) ?? fallback;
const REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379");
const POSTGRES_URL = env("POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test");
const MYSQL_URL = env("MYSQL_URL", "mysql://root@127.0.0.1:3306/test");
const tag = `${globalThis.Bun ? "bun" : "deno"}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
let serial = 0;
const unique = () => `${tag}_${++serial}`;

/** Each store: a factory of fresh, empty stores, the cleanup of one, and the end of the shared client. */
const stores = {
  async memory() {
    return { factory: () => new MemoryStore(), end: async () => {} };
  },
  async "node-redis"() {
    const { createClient } = await import("redis");
    const { RedisStore } = await import("sessionkit/redis");
    const client = createClient({ url: REDIS_URL });
    client.on("error", () => {});
    await client.connect();
    return redisKind(RedisStore, client, () => client.close());
  },
  async ioredis() {
    const { Redis } = await import("ioredis");
    const { RedisStore } = await import("sessionkit/redis");
    const client = new Redis(REDIS_URL);
    await new Promise((resolve, reject) => (client.once("ready", resolve), client.once("error", reject)));
    return redisKind(RedisStore, client, () => client.quit());
  },
  async pg() {
    const { default: pg } = await import("pg");
    const { PostgresStore } = await import("sessionkit/postgres");
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
    const tables = new WeakMap();
    return {
      factory: () => {
        const tableName = `sk_rt_${unique()}`;
        const store = new PostgresStore({ pool, tableName });
        tables.set(store, tableName);
        return store;
      },
      cleanup: async (store) => {
        await store.close?.();
        await pool.query(`DROP TABLE IF EXISTS "${tables.get(store)}"`);
      },
      end: () => pool.end(),
    };
  },
  // The runtime's own SQLite: bun:sqlite on Bun, node:sqlite on Deno. A file per store, opened as
  // docs/stores/sqlite.md tells users to open a connection they pass in (WAL, a busy timeout).
  async sqlite() {
    const { SqliteStore } = await import("sessionkit/sqlite");
    const builtIn = globalThis.Bun ? "bun:sqlite" : "node:sqlite"; // a variable: Deno never resolves bun:sqlite
    const library = await import(builtIn);
    const Database = library.Database ?? library.DatabaseSync;
    const dir = mkdtempSync(join(tmpdir(), "sessionkit-rt-sqlite-"));
    const connections = new WeakMap();
    return {
      factory: () => {
        const db = new Database(join(dir, `${unique()}.db`));
        db.exec("PRAGMA busy_timeout = 5000");
        db.exec("PRAGMA journal_mode = WAL");
        const store = new SqliteStore({ database: db });
        if (store.driver !== builtIn) throw new Error(`SqliteStore took the ${builtIn} connection for ${store.driver}`);
        connections.set(store, db);
        return store;
      },
      cleanup: async (store) => {
        await store.close?.();
        connections.get(store)?.close();
      },
      end: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  async mysql2() {
    const mysql = await import("mysql2/promise");
    const { MySQLStore } = await import("sessionkit/mysql");
    const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 4 });
    const tables = new WeakMap();
    return {
      factory: () => {
        const tableName = `sk_rt_${unique()}`;
        const store = new MySQLStore({ pool, tableName, cleanupInterval: 0 });
        tables.set(store, tableName);
        return store;
      },
      cleanup: async (store) => {
        await store.close?.();
        await pool.query(`DROP TABLE IF EXISTS \`${tables.get(store)}\``);
      },
      end: () => pool.end(),
    };
  },
};

function redisKind(RedisStore, client, end) {
  const prefixes = new WeakMap();
  return {
    factory: () => {
      const prefix = `sktest:rt:${unique()}:`;
      const store = new RedisStore({ client, prefix });
      prefixes.set(store, prefix);
      return store;
    },
    cleanup: async (store) => {
      await store.close?.(); // leaves the shared client open
      const keys = await client.keys(`${prefixes.get(store)}*`);
      for (const key of keys) await client.del(key);
    },
    end,
  };
}

async function runStore(name) {
  const result = { passed: 0, failed: [], skipped: [] };
  let kind;
  try {
    kind = await stores[name]();
  } catch (error) {
    result.failed.push({ case: "(connect)", error: String(error?.stack ?? error) });
    return result;
  }
  // 1 s records in the expiry cases, not 300 ms: all stores of both runtimes run at once, and a
  // write and a count must land well inside a record's life on a busy CI machine.
  for (const c of conformanceCases(kind.factory, { cleanup: kind.cleanup, shortLifetime: 1000 })) {
    let note;
    try {
      await c.run({ skip: (why) => (note = why ?? "") });
      if (note === undefined) result.passed++;
      else result.skipped.push({ case: c.name, note });
    } catch (error) {
      result.failed.push({ case: c.name, error: String(error?.stack ?? error) });
    }
  }
  await kind.end();
  return result;
}

const names = (globalThis.Deno ? Deno.args : process.argv.slice(2)).filter((name) => name in stores);
const results = await Promise.all(names.map(runStore));
console.log(JSON.stringify({ runtime: globalThis.Bun ? `bun ${Bun.version}` : `deno ${Deno.version.deno}`, stores: Object.fromEntries(names.map((n, i) => [n, results[i]])) }));
// Drivers may keep sockets or timers alive after their end(): the report is out, so leave.
(globalThis.Deno ? Deno : process).exit(0);

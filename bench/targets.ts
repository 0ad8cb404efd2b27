/** The server stores the stress and users benchmarks run against, each on a namespace of its own. */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster } from "ioredis";
import mysql from "mysql2/promise";
import pg from "pg";
import { createClient } from "redis";
import type { SessionStore } from "../src/index.js";
import { MemoryStore } from "../src/index.js";
import { FileStore } from "../src/stores/file.js";
import { MySQLStore } from "../src/stores/mysql.js";
import { PostgresStore } from "../src/stores/postgres.js";
import { RedisStore } from "../src/stores/redis.js";
import { SqliteStore } from "../src/stores/sqlite.js";
import { MYSQL_URL, POSTGRES_URL, REDIS_URL } from "./lib.js";

const unique = () => randomBytes(4).toString("hex");

const REDIS_CLUSTER_NODES = (process.env.REDIS_CLUSTER_NODES ?? "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103").split(",").map((address) => {
  const [host, port] = address.split(":");
  return { host: host!, port: Number(port) };
});

export interface Target {
  name: string;
  /** A store on a namespace of its own, and how to remove that namespace afterwards. */
  open: () => Promise<{ store: SessionStore; cleanup: () => Promise<void> }>;
}


export const targets: Target[] = [
  { name: "memory", open: async () => ({ store: new MemoryStore(), cleanup: async () => {} }) },
  {
    name: "file",
    open: async () => {
      const dir = await mkdtemp(join(tmpdir(), "sessionkit-stress-"));
      return { store: new FileStore({ dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: "sqlite",
    open: async () => {
      const dir = await mkdtemp(join(tmpdir(), "sessionkit-stress-"));
      const store = new SqliteStore({ path: join(dir, "sessions.db") });
      return { store, cleanup: async () => (await store.close(), await rm(dir, { recursive: true, force: true })) };
    },
  },
  {
    name: "redis (node-redis)",
    open: async () => {
      const client = createClient({ url: REDIS_URL });
      client.on("error", () => {});
      await client.connect();
      const prefix = `stress:${unique()}:`;
      const cleanup = async () => {
        for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length > 0) await client.del(keys);
        await client.close();
      };
      return { store: new RedisStore({ client, prefix }), cleanup };
    },
  },
  {
    name: "redis cluster (ioredis)",
    open: async () => {
      const client = new Cluster(REDIS_CLUSTER_NODES);
      await new Promise((resolve, reject) => (client.once("ready", resolve), client.once("error", reject)));
      const prefix = `stress:${unique()}:`;
      const cleanup = async () => {
        for (const node of client.nodes("master")) {
          const keys = await node.keys(`${prefix}*`);
          for (const key of keys) await node.del(key);
        }
        await client.quit();
      };
      return { store: new RedisStore({ client, prefix }), cleanup };
    },
  },
  {
    name: "postgres",
    open: async () => {
      const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 10 });
      const tableName = `stress_${unique()}`;
      const cleanup = async () => {
        await pool.query(`DROP TABLE IF EXISTS "${tableName}"`);
        await pool.end();
      };
      return { store: new PostgresStore({ pool, tableName }), cleanup };
    },
  },
  {
    name: "mysql",
    open: async () => {
      const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 10 });
      const tableName = `stress_${unique()}`;
      const cleanup = async () => {
        await pool.query(`DROP TABLE IF EXISTS \`${tableName}\``);
        await pool.end();
      };
      return { store: new MySQLStore({ pool, tableName }), cleanup };
    },
  },
];

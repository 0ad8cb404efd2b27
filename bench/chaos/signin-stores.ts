/**
 * The stores of the sign-in kill scenario, opened the same way by the worker that is killed and by
 * the parent that inspects what it left: `where` is a directory (file), a database file (sqlite), a
 * key prefix (redis) or a table name (postgres, mysql) private to one run.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { SessionStore } from "../../src/index.js";
import { FileStore } from "../../src/stores/file.js";
import { MySQLStore } from "../../src/stores/mysql.js";
import { PostgresStore } from "../../src/stores/postgres.js";
import { RedisStore } from "../../src/stores/redis.js";
import { SqliteStore } from "../../src/stores/sqlite.js";

export const SIGNIN_KINDS = ["file", "sqlite", "redis", "postgres", "mysql"] as const;

export interface OpenedStore {
  store: SessionStore;
  /** Owner index entries kept apart from the records (file, Redis); undefined where the record is the index. */
  indexEntries(): Promise<number | undefined>;
}

export async function openStore(kind: string, where: string): Promise<OpenedStore> {
  const none = async () => undefined;
  switch (kind) {
    case "file":
      return { store: new FileStore({ dir: where }), indexEntries: async () => readdirSync(join(where, "owners"), { recursive: true }).filter((name) => String(name).includes("/")).length };
    case "sqlite":
      return { store: new SqliteStore({ path: where }), indexEntries: none };
    case "redis": {
      const { createClient } = await import("redis");
      const client = createClient({ url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" });
      client.on("error", () => {});
      await client.connect();
      const indexEntries = async () => {
        let total = 0;
        for await (const keys of client.scanIterator({ MATCH: `${where}owner:*` })) for (const key of [keys].flat()) total += await client.hLen(key);
        return total;
      };
      return { store: new RedisStore({ client, prefix: where, ownsClient: true }), indexEntries };
    }
    case "postgres":
      return { store: new PostgresStore({ connectionString: process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test", tableName: where }), indexEntries: none };
    case "mysql":
      return { store: new MySQLStore({ uri: process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test", tableName: where }), indexEntries: none };
    default:
      throw new Error(`unknown store kind ${kind}`);
  }
}

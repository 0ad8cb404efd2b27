import type { Client } from "@libsql/client";
import type { SyncSqliteDatabase } from "../../src/stores/sqlite.js";
import { nodeSqlite } from "../../src/stores/sqlite/drivers.js";

/** node:sqlite exists without a flag from Node 22.13. */
export const NODE_SQLITE = nodeSqlite() !== undefined;
/**
 * better-sqlite3's binary is built for the Node that ran `npm ci`; under another Node's ABI it
 * cannot load (CI's Node 26 run tests node:sqlite instead).
 */
export const BETTER_SQLITE3 = await import("better-sqlite3")
  .then(({ default: Database }) => (new Database(":memory:").close(), true))
  .catch(() => false);
/** Whether `new SqliteStore({ path })` can open a file on this Node. */
export const SQLITE_PATH = NODE_SQLITE || BETTER_SQLITE3;

/**
 * A connection the way docs/stores/sqlite.md tells users to open one they pass in: WAL mode and a
 * busy timeout. `driver` is "node:sqlite", "better-sqlite3" or "libsql".
 */
export async function openConnection(driver: string, file: string, busyTimeout = 5000): Promise<SyncSqliteDatabase | Client> {
  if (driver === "libsql") {
    const { createClient } = await import("@libsql/client");
    const client = createClient({ url: `file:${file}` });
    await client.execute(`PRAGMA busy_timeout = ${busyTimeout}`);
    await client.execute("PRAGMA journal_mode = WAL");
    return client;
  }
  let db: SyncSqliteDatabase;
  if (driver === "node:sqlite") {
    db = new (nodeSqlite()!.DatabaseSync)(file);
  } else if (driver === "better-sqlite3") {
    const { default: Database } = await import("better-sqlite3");
    db = new Database(file);
  } else {
    throw new Error(`unknown driver ${driver}`);
  }
  db.exec(`PRAGMA busy_timeout = ${busyTimeout}`);
  db.exec("PRAGMA journal_mode = WAL");
  return db;
}

/** The payload a writer stores under k<i>: its length and content vary with i, and its end says it is whole. */
export function sqlitePayload(i: number): string {
  return `k${i}:` + "é🌍x".repeat(20_000 + (i % 5) * 10_000) + `:end:${i}`;
}

/** The first row of a query (a PRAGMA, a count) on a connection of any of the drivers. */
export async function firstRow(database: SyncSqliteDatabase | Client, sql: string): Promise<unknown> {
  if ("execute" in database) return (await database.execute({ sql, args: [] })).rows[0];
  return database.prepare(sql).get();
}

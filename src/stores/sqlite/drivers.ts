/**
 * The SQLite libraries SqliteStore runs on, behind one small interface. Which one a connection
 * belongs to is decided once, when the store is made (`driverOf`); the store never asks again.
 *
 * - node:sqlite (`DatabaseSync`, Node 22.13+ without a flag) and better-sqlite3 share one
 *   synchronous statement API (`prepare(sql).get/all/run(...params)`), so one class serves both:
 *   their calls return plain values and the store answers without a promise.
 * - @libsql/client (`createClient({ url: "file:…" })`) is asynchronous: every call is a promise.
 */
import type { Awaitable } from "../../core/store.js";
import { requireDriver } from "../driver.js";

export type SqlValue = string | number | bigint | null;
export type SqliteRow = Record<string, unknown>;

export interface SqliteDriver {
  /** The library, as the docs and the demo name it. */
  readonly name: "node:sqlite" | "better-sqlite3" | "@libsql/client";
  /** True when every call answers with a plain value (never a promise). */
  readonly sync: boolean;
  /** The SELECT expression that reads a text column whole: as text, or as bytes where text stops at U+0000. */
  readonly wholeText: (column: string) => string;
  get(sql: string, params: SqlValue[]): Awaitable<SqliteRow | undefined>;
  all(sql: string, params: SqlValue[]): Awaitable<SqliteRow[]>;
  /** Runs a write; resolves to the number of rows it changed. */
  run(sql: string, params: SqlValue[]): Awaitable<number>;
  /** Runs DDL or a PRAGMA, unprepared, ignoring what it returns. */
  exec(sql: string): Awaitable<void>;
  close(): Awaitable<void>;
}

/**
 * A prepared statement of node:sqlite or better-sqlite3 (the part the store uses). The parameters
 * are typed `never` so that both libraries' own (generic) statement types fit; the store binds
 * only strings, numbers and null.
 */
export interface SyncStatement {
  get(...params: never[]): unknown;
  all(...params: never[]): unknown[];
  run(...params: never[]): { changes: number | bigint };
}

/** A node:sqlite `DatabaseSync` or a better-sqlite3 `Database`. */
export interface SyncSqliteDatabase {
  prepare(sql: string): SyncStatement;
  exec(sql: string): unknown;
  close(): unknown;
}

/** An @libsql/client `Client` (the part the store uses). */
export interface LibsqlClient {
  execute(statement: { sql: string; args: SqlValue[] }): Promise<{ rows: ArrayLike<unknown>; rowsAffected: number }>;
  close(): void;
  readonly protocol: string;
}

/** A connection of one of the supported libraries. */
export type SqliteDatabase = SyncSqliteDatabase | LibsqlClient;

class SyncDriver implements SqliteDriver {
  readonly sync = true;
  readonly wholeText = (column: string) => column;
  readonly #db: SyncSqliteDatabase;
  // Each statement text is prepared once per connection and reused.
  readonly #statements = new Map<string, SyncStatement>();

  constructor(
    readonly name: "node:sqlite" | "better-sqlite3",
    db: SyncSqliteDatabase,
  ) {
    this.#db = db;
  }

  get(sql: string, params: SqlValue[]): SqliteRow | undefined {
    return (this.#prepared(sql).get(...(params as never[])) ?? undefined) as SqliteRow | undefined;
  }

  all(sql: string, params: SqlValue[]): SqliteRow[] {
    return this.#prepared(sql).all(...(params as never[])) as SqliteRow[];
  }

  run(sql: string, params: SqlValue[]): number {
    return Number(this.#prepared(sql).run(...(params as never[])).changes);
  }

  exec(sql: string): void {
    this.#db.exec(sql);
  }

  close(): void {
    this.#db.close();
  }

  #prepared(sql: string): SyncStatement {
    let statement = this.#statements.get(sql);
    if (!statement) this.#statements.set(sql, (statement = this.#db.prepare(sql)));
    return statement;
  }
}

class LibsqlDriver implements SqliteDriver {
  readonly name = "@libsql/client";
  readonly sync = false;
  // libSQL stores text containing U+0000 whole but returns it cut at the first U+0000 (0.18); as a
  // BLOB it comes back whole, as an ArrayBuffer of the UTF-8 bytes.
  readonly wholeText = (column: string) => `CAST(${column} AS BLOB) AS ${column}`;
  readonly #client: LibsqlClient;

  constructor(client: LibsqlClient) {
    this.#client = client;
  }

  async get(sql: string, args: SqlValue[]): Promise<SqliteRow | undefined> {
    const { rows } = await this.#client.execute({ sql, args });
    return rows[0] as SqliteRow | undefined;
  }

  async all(sql: string, args: SqlValue[]): Promise<SqliteRow[]> {
    return Array.from((await this.#client.execute({ sql, args })).rows) as SqliteRow[];
  }

  async run(sql: string, args: SqlValue[]): Promise<number> {
    return (await this.#client.execute({ sql, args })).rowsAffected;
  }

  async exec(sql: string): Promise<void> {
    await this.#client.execute({ sql, args: [] });
  }

  close(): void {
    this.#client.close();
  }
}

const ACCEPTED = "a node:sqlite DatabaseSync, a better-sqlite3 Database or an @libsql/client Client";

/** The driver for a connection the user passed in, told apart by its shape. */
export function driverOf(database: SqliteDatabase): SqliteDriver {
  const candidate = database as Partial<SyncSqliteDatabase & LibsqlClient & { pragma: unknown }>;
  if (typeof candidate.execute === "function" && typeof candidate.protocol === "string") return new LibsqlDriver(database as LibsqlClient);
  if (typeof candidate.prepare === "function" && typeof candidate.exec === "function") {
    if (typeof candidate.pragma === "function") return new SyncDriver("better-sqlite3", database as SyncSqliteDatabase);
    if (database.constructor?.name === "DatabaseSync") return new SyncDriver("node:sqlite", database as SyncSqliteDatabase);
  }
  throw new TypeError(`option "database" must be ${ACCEPTED}`);
}

interface NodeSqlite {
  DatabaseSync: new (path: string) => SyncSqliteDatabase;
}

/** node:sqlite when this Node has it without a flag (22.13+), else undefined. */
export function nodeSqlite(): NodeSqlite | undefined {
  try {
    return process.getBuiltinModule?.("node:sqlite") as NodeSqlite | undefined;
  } catch {
    return undefined; // 22.5–22.12 without --experimental-sqlite
  }
}

/** Opens `path` with node:sqlite where Node has it, else with better-sqlite3 (an optional peer). */
export function openPath(path: string): SqliteDriver {
  const sqlite = nodeSqlite();
  if (sqlite) return new SyncDriver("node:sqlite", new sqlite.DatabaseSync(path));
  type BetterSqlite3 = new (path: string) => SyncSqliteDatabase;
  const Database = requireDriver<BetterSqlite3>("better-sqlite3", 'sessionkit/sqlite with option "path" on a Node without node:sqlite (before 22.13)');
  return new SyncDriver("better-sqlite3", new Database(path));
}

/**
 * SQLITE_BUSY (another connection holds the write lock past the busy timeout) or SQLITE_LOCKED:
 * a transient conflict, which the store contract makes "not applied". node:sqlite reports the
 * result code in `errcode`; better-sqlite3 and libSQL name it in `code`.
 */
export function isBusy(error: unknown): boolean {
  const { code, errcode } = (error ?? {}) as { code?: unknown; errcode?: unknown };
  if (typeof errcode === "number") return (errcode & 0xff) === 5 || (errcode & 0xff) === 6;
  return typeof code === "string" && /^SQLITE_(BUSY|LOCKED)/.test(code);
}

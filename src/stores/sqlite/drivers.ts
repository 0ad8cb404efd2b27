/**
 * The SQLite libraries SqliteStore runs on, behind one small interface. Which one a connection
 * belongs to is decided once, when the store is made (`driverOf`); the store never asks again.
 *
 * - node:sqlite (`DatabaseSync`, Node 22.13+ without a flag, also Deno's), better-sqlite3 and
 *   bun:sqlite share one synchronous statement API (`prepare(sql).get/all/run(...params)`), so one
 *   class serves all three: their calls return plain values and the store answers without a promise.
 * - @libsql/client (`createClient({ url: "file:…" })`) is asynchronous: every call is a promise.
 * - A Cloudflare D1 binding (`env.DB`) is asynchronous too: `prepare(sql).bind(...).first/all/run()`.
 *   D1 has no interactive transactions, which the store never needs: every call is one statement.
 */
import type { Awaitable } from "../../core/store.js";
import { requireDriver } from "../driver.js";

export type SqlValue = string | number | bigint | null;
export type SqliteRow = Record<string, unknown>;

export interface SqliteDriver {
  /** The library, as the docs and the demo name it. */
  readonly name: "node:sqlite" | "better-sqlite3" | "bun:sqlite" | "@libsql/client" | "d1";
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

/** A node:sqlite `DatabaseSync`, a better-sqlite3 `Database` or a bun:sqlite `Database`. */
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

/** A prepared statement of Cloudflare D1 (the part the store uses). */
export interface D1StatementLike {
  bind(...values: never[]): D1StatementLike;
  first(): Promise<unknown>;
  all(): Promise<{ results: unknown[] }>;
  run(): Promise<{ meta: { changes?: number } }>;
}

/** A Cloudflare D1 binding, `env.DB` in a Worker (the part the store uses). */
export interface D1DatabaseLike {
  prepare(sql: string): D1StatementLike;
  batch(statements: D1StatementLike[]): Promise<unknown[]>;
}

/** A connection of one of the supported libraries. */
export type SqliteDatabase = SyncSqliteDatabase | LibsqlClient | D1DatabaseLike;

class SyncDriver implements SqliteDriver {
  readonly sync = true;
  readonly wholeText: (column: string) => string;
  readonly #db: SyncSqliteDatabase;
  // Each statement text is prepared once per connection and reused.
  readonly #statements = new Map<string, SyncStatement>();

  constructor(
    readonly name: "node:sqlite" | "better-sqlite3" | "bun:sqlite",
    db: SyncSqliteDatabase,
  ) {
    this.#db = db;
    this.wholeText = this.#textStopsAtNul() ? asBlob : (column) => column;
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

  /**
   * Asked of the connection, not of the runtime's name: Deno's node:sqlite (2.9) returns text cut
   * at the first U+0000, where Node's, better-sqlite3 and bun:sqlite return it whole.
   */
  #textStopsAtNul(): boolean {
    const row = this.#db.prepare(`SELECT 'a' || char(0) || 'b' AS "text"`).get() as { text: string };
    return row.text.length !== 3;
  }
}

/** Reads a text column as its UTF-8 bytes, which every driver returns whole. */
const asBlob = (column: string) => `CAST(${column} AS BLOB) AS ${column}`;

class LibsqlDriver implements SqliteDriver {
  readonly name = "@libsql/client";
  readonly sync = false;
  // libSQL stores text containing U+0000 whole but returns it cut at the first U+0000 (0.18); as a
  // BLOB it comes back whole, as an ArrayBuffer of the UTF-8 bytes.
  readonly wholeText = asBlob;
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

/**
 * D1 as a Worker sees it. Local D1 (miniflare) was tested; what it does not reproduce of the
 * service (latency, read replicas and the sessions API) is in docs/stores/sqlite.md.
 */
class D1Driver implements SqliteDriver {
  readonly name = "d1";
  readonly sync = false;
  readonly wholeText = (column: string) => column;
  readonly #db: D1DatabaseLike;

  constructor(db: D1DatabaseLike) {
    this.#db = db;
  }

  async get(sql: string, params: SqlValue[]): Promise<SqliteRow | undefined> {
    return ((await this.#bound(sql, params).first()) ?? undefined) as SqliteRow | undefined;
  }

  async all(sql: string, params: SqlValue[]): Promise<SqliteRow[]> {
    return (await this.#bound(sql, params).all()).results as SqliteRow[];
  }

  async run(sql: string, params: SqlValue[]): Promise<number> {
    return (await this.#bound(sql, params).run()).meta.changes ?? 0;
  }

  /** One prepared statement, not D1's exec(), which splits its text at every newline. */
  async exec(sql: string): Promise<void> {
    await this.#db.prepare(sql).run();
  }

  close(): void {
    // A binding has nothing to close, and the store never owns one.
  }

  #bound(sql: string, params: SqlValue[]): D1StatementLike {
    const statement = this.#db.prepare(sql);
    return params.length === 0 ? statement : statement.bind(...(params as never[]));
  }
}

const ACCEPTED = "a node:sqlite DatabaseSync, a better-sqlite3 Database, a bun:sqlite Database, an @libsql/client Client or a Cloudflare D1 binding";

/** The driver for a connection the user passed in, told apart by its shape (no library is imported to ask). */
export function driverOf(database: SqliteDatabase): SqliteDriver {
  const candidate = database as Partial<SyncSqliteDatabase & LibsqlClient & D1DatabaseLike & { pragma: unknown; query: unknown }>;
  if (typeof candidate.execute === "function" && typeof candidate.protocol === "string") return new LibsqlDriver(database as LibsqlClient);
  // D1's binding has batch() and no exec() of the synchronous kind; no other library has batch().
  if (typeof candidate.prepare === "function" && typeof candidate.batch === "function") return new D1Driver(database as D1DatabaseLike);
  if (typeof candidate.prepare === "function" && typeof candidate.exec === "function") {
    if (typeof candidate.pragma === "function") return new SyncDriver("better-sqlite3", database as SyncSqliteDatabase);
    // query() (a cached prepare) is bun:sqlite's alone among these libraries.
    if (typeof candidate.query === "function") return new SyncDriver("bun:sqlite", database as SyncSqliteDatabase);
    if (isNodeSqlite(database)) return new SyncDriver("node:sqlite", database as SyncSqliteDatabase);
  }
  throw new TypeError(`option "database" must be ${ACCEPTED}`);
}

/**
 * An instance of this runtime's node:sqlite class; by name where that module cannot be loaded here.
 * Not by name alone: Node 26 calls the class `Database` (`DatabaseSync` is an alias of it).
 */
function isNodeSqlite(database: object): boolean {
  const DatabaseSync = nodeSqlite()?.DatabaseSync;
  return (DatabaseSync !== undefined && database instanceof DatabaseSync) || database.constructor?.name === "DatabaseSync";
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
 * result code in `errcode`; better-sqlite3, bun:sqlite and libSQL name it in `code`; D1 only in
 * its message ("D1_ERROR: … : SQLITE_BUSY").
 */
export function isBusy(error: unknown): boolean {
  const { code, errcode, message } = (error ?? {}) as { code?: unknown; errcode?: unknown; message?: unknown };
  if (typeof errcode === "number") return (errcode & 0xff) === 5 || (errcode & 0xff) === 6;
  if (typeof code === "string") return /^SQLITE_(BUSY|LOCKED)/.test(code);
  return typeof message === "string" && message.startsWith("D1_ERROR") && /: SQLITE_(BUSY|LOCKED)\b/.test(message);
}

import type { Awaitable, OwnedSession, SessionStore, SessionWrite, StoredSession } from "../core/store.js";
import type { SqliteDatabase, SqliteDriver, SqliteRow } from "./sqlite/drivers.js";
import { driverOf, isBusy, nodeSqlite, openPath } from "./sqlite/drivers.js";
import type { RowMeta } from "./sql/shared.js";
import { yieldToEventLoop } from "./event-loop.js";
import { checkBatchSize, checkIdentifier, deleteInBatches, recordOf } from "./sql/shared.js";

export type { D1DatabaseLike, D1StatementLike, LibsqlClient, SqliteDatabase, SyncSqliteDatabase, SyncStatement } from "./sqlite/drivers.js";

/** Whether this Node has node:sqlite without a flag (22.13+): then `{ path }` needs no driver installed. */
export function nodeSqliteAvailable(): boolean {
  return nodeSqlite() !== undefined;
}

export interface SqliteStoreOptions {
  /**
   * A connection you own: a node:sqlite `DatabaseSync`, a better-sqlite3 `Database`, a bun:sqlite
   * `Database`, an @libsql/client `Client` or a Cloudflare D1 binding (`env.DB`). The store never
   * closes it and leaves its settings alone (set WAL mode and a busy timeout yourself, as
   * docs/stores/sqlite.md shows). Give `database` or `path`.
   */
  database?: SqliteDatabase;
  /**
   * A database file the store opens, owns and closes: with node:sqlite where this Node has it
   * (22.13+), else with better-sqlite3. The store puts it in WAL mode (readers never wait for the
   * writer, and several processes can share the file) with `synchronous = NORMAL`, which in WAL
   * mode survives any crash of the process and loses at most the last commits on power loss.
   */
  path?: string;
  /** Default "sessions". Validated as a plain identifier. */
  tableName?: string;
  /**
   * Default true: CREATE TABLE IF NOT EXISTS (and its indexes) before the first call; with a
   * synchronous driver at construction. Set false when migrations own the schema.
   */
  createTable?: boolean;
  /**
   * Default 1000: rows per gc DELETE. Each batch is its own short write transaction, and gc yields
   * between batches, so requests of this process and others take the write lock in between.
   */
  gcBatchSize?: number;
  /**
   * Default 5000 (ms), for a `path` the store opens: how long a write waits for another
   * connection's write lock before it counts as a conflict (SQLite's busy_timeout).
   */
  busyTimeout?: number;
}

interface Row extends RowMeta {
  key?: string;
  /** Text, or its UTF-8 bytes from a driver whose text reads stop at U+0000 (see `wholeText`). */
  data: string | ArrayBuffer | Uint8Array;
}

/**
 * Sessions in an SQLite table. Every call is one prepared statement in its own (autocommit)
 * transaction: compare-and-set is the statement's WHERE clause, expiry moves only forward
 * through max() in the same statement, so no read-then-write needs an explicit transaction.
 * With node:sqlite, better-sqlite3 and bun:sqlite the methods return plain values (no promise hop),
 * as the manager accepts; with @libsql/client and D1 they return promises. The owner is an indexed
 * column. D1 has no interactive transactions, and none is needed: no call spans two statements.
 */
export class SqliteStore implements SessionStore {
  /** The library the store runs on, as decided at construction. */
  readonly driver: SqliteDriver["name"];
  readonly #db: SqliteDriver;
  readonly #ownsDb: boolean;
  readonly #gcBatchSize: number;
  readonly #sql: ReturnType<typeof statements>;
  readonly #schema: string[];
  // Set while the table still has to be made (an asynchronous driver does that at the first call).
  #pending: (() => Promise<void>) | undefined;
  #creating: Promise<void> | undefined;

  constructor(options: SqliteStoreOptions) {
    if (options === null || typeof options !== "object") throw new TypeError("SqliteStore needs an options object");
    const table = checkIdentifier(options.tableName ?? "sessions", "tableName");
    this.#gcBatchSize = checkBatchSize(options.gcBatchSize ?? 1000);
    const busyTimeout = checkBusyTimeout(options.busyTimeout ?? 5000);
    this.#schema = createStatements(table);
    [this.#db, this.#ownsDb] = connectionOf(options, busyTimeout);
    this.#sql = statements(`"${table}"`, this.#db.wholeText('"data"'));
    this.driver = this.#db.name;
    if (options.createTable === false) return;
    if (this.#db.sync) {
      try {
        for (const text of this.#schema) this.#db.exec(text);
      } catch (error) {
        if (this.#ownsDb) void this.#db.close(); // a read-only file, a name taken by a view: nothing left open
        throw error;
      }
    } else {
      this.#pending = () => this.applySchema();
    }
  }

  get(key: string): Awaitable<StoredSession | null> {
    return this.#call(() => then(this.#db.get(this.#sql.get, [key, Date.now()]), (row) => (row ? rowRecord(row) : null)));
  }

  set(key: string, write: SessionWrite): Awaitable<boolean> {
    return this.#call(() => {
      const { data, expiresAt, version, expectedVersion } = write;
      const owner = write.owner ?? null;
      // Split by expected version: an UPDATE never creates a row, so a write that expects a record
      // which is gone (destroyed by another request) fails instead of reviving it.
      let changed: Awaitable<number>;
      try {
        changed = expectedVersion === 0
          ? this.#db.run(this.#sql.insert, [key, data, expiresAt, version, owner, Date.now()])
          : this.#db.run(this.#sql.update, [data, expiresAt, version, owner, key, expectedVersion, Date.now()]);
      } catch (error) {
        return notAppliedIfBusy(error);
      }
      return changed instanceof Promise ? changed.then((rows) => rows === 1, notAppliedIfBusy) : changed === 1;
    });
  }

  /** One indexed SELECT on `user_id`: O(that owner's rows). */
  listByOwner(owner: string): Awaitable<OwnedSession[]> {
    return this.#call(() =>
      then(this.#db.all(this.#sql.listByOwner, [owner, Date.now()]), (rows) => rows.map((row) => ({ key: String(row.key), record: rowRecord(row) }))),
    );
  }

  destroy(key: string): Awaitable<void> {
    return this.#call(() => then(this.#db.run(this.#sql.destroy, [key]), () => undefined));
  }

  touch(key: string, expiresAt: number): Awaitable<void> {
    return this.#call(() => then(this.#db.run(this.#sql.touch, [expiresAt, key, Date.now(), expiresAt]), () => undefined));
  }

  count(): Awaitable<number> {
    return this.#call(() => then(this.#db.get(this.#sql.count, [Date.now()]), (row) => Number(row!.live)));
  }

  /** Deletes expired rows in batches of gcBatchSize, yielding to the event loop between batches. */
  gc(): Promise<number> {
    const now = Date.now();
    const batch = () => this.#call(() => this.#db.run(this.#sql.gc, [now, this.#gcBatchSize]));
    return deleteInBatches(this.#gcBatchSize, batch, yieldToEventLoop);
  }

  /** The DDL that `createTable` runs (idempotent), for migrations and `sessionkit schema`. */
  schemaStatements(): string[] {
    return [...this.#schema];
  }

  /** Creates the table and its indexes now, as `createTable` would, whatever that option says. */
  async applySchema(): Promise<void> {
    for (const text of this.#schema) await this.#db.exec(text);
  }

  /** Closes the connection only if this store opened it from `path`; later calls throw. */
  close(): Awaitable<void> {
    this.#creating = undefined;
    this.#pending = () => {
      throw new Error("SqliteStore: the store is closed");
    };
    return this.#ownsDb ? this.#db.close() : undefined;
  }

  /**
   * Runs a call: at once on the hot path; first making the table when an asynchronous driver still
   * has to (every call waits for that one attempt; a failed one is tried again by the next call).
   */
  #call<T>(run: () => Awaitable<T>): Awaitable<T> {
    const pending = this.#pending;
    if (!pending) return run();
    this.#creating ??= pending().then(
      () => {
        if (this.#pending === pending) this.#pending = this.#creating = undefined;
      },
      (error: unknown) => {
        this.#creating = undefined;
        throw error;
      },
    );
    return this.#creating.then(run);
  }
}

/** Maps a value that may be a promise without adding a promise hop when it is not. */
function then<T, U>(value: Awaitable<T>, map: (value: T) => U): Awaitable<U> {
  return value instanceof Promise ? value.then(map) : map(value);
}

function notAppliedIfBusy(error: unknown): false {
  if (isBusy(error)) return false;
  throw error;
}

const utf8 = new TextDecoder();

function rowRecord(row: SqliteRow): StoredSession {
  const { data } = row as unknown as Row;
  return recordOf(row as unknown as Row, typeof data === "string" ? data : utf8.decode(data));
}

function connectionOf(options: SqliteStoreOptions, busyTimeout: number): [SqliteDriver, boolean] {
  if (options.database !== undefined && options.path !== undefined) throw new TypeError('give either option "database" or option "path", not both');
  if (options.database !== undefined) {
    if (options.database === null || typeof options.database !== "object") throw new TypeError('option "database" must be a connection object');
    return [driverOf(options.database), false];
  }
  if (typeof options.path !== "string" || options.path === "" || options.path.includes("\0")) {
    throw new TypeError('SqliteStore needs option "database" (a node:sqlite, better-sqlite3, bun:sqlite or @libsql/client connection, or a D1 binding) or option "path" (a file path)');
  }
  const db = openPath(options.path);
  try {
    // busy_timeout first: switching to WAL needs a lock that another process may hold for a moment.
    db.exec(`PRAGMA busy_timeout = ${busyTimeout}`);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
  } catch (error) {
    void db.close();
    throw error;
  }
  return [db, true];
}

function checkBusyTimeout(value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new TypeError(`option "busyTimeout" must be a whole number of milliseconds; got ${String(value)}`);
  return value;
}

/** No 0.1 SQLite tables exist, so unlike the PostgreSQL and MySQL stores there is no upgrade step. */
function createStatements(table: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS "${table}" (
  "key" TEXT PRIMARY KEY NOT NULL,
  "data" TEXT NOT NULL,
  "expires_at" INTEGER NOT NULL,
  "version" INTEGER NOT NULL,
  "user_id" TEXT
)`,
    `CREATE INDEX IF NOT EXISTS "${table}_expires_at_idx" ON "${table}" ("expires_at")`,
    `CREATE INDEX IF NOT EXISTS "${table}_user_id_idx" ON "${table}" ("user_id")`,
  ];
}

function statements(table: string, data: string) {
  return {
    get: `SELECT ${data}, "expires_at", "version", "user_id" FROM ${table} WHERE "key" = ? AND "expires_at" > ?`,
    // expected 0: insert, or overwrite a row only if it has expired (an expired row counts as version 0).
    insert: `INSERT INTO ${table} ("key", "data", "expires_at", "version", "user_id") VALUES (?, ?, ?, ?, ?)
ON CONFLICT ("key") DO UPDATE SET "data" = excluded."data", "expires_at" = excluded."expires_at", "version" = excluded."version", "user_id" = excluded."user_id"
WHERE "expires_at" <= ?`,
    // max(): a slow request committing after a fast one never shortens the session.
    update: `UPDATE ${table} SET "data" = ?, "expires_at" = max("expires_at", ?), "version" = ?, "user_id" = ? WHERE "key" = ? AND "version" = ? AND "expires_at" > ?`,
    listByOwner: `SELECT "key", ${data}, "expires_at", "version", "user_id" FROM ${table} WHERE "user_id" = ? AND "expires_at" > ?`,
    destroy: `DELETE FROM ${table} WHERE "key" = ?`,
    // Only a later expiry is written: an earlier one leaves the row (and the WAL) untouched.
    touch: `UPDATE ${table} SET "expires_at" = ? WHERE "key" = ? AND "expires_at" > ? AND "expires_at" < ?`,
    count: `SELECT count(*) AS "live" FROM ${table} WHERE "expires_at" > ?`,
    gc: `DELETE FROM ${table} WHERE "key" IN (SELECT "key" FROM ${table} WHERE "expires_at" <= ? LIMIT ?)`,
  };
}

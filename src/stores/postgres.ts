import { createHash } from "node:crypto";
import type pg from "pg";
import type { Pool, QueryConfig } from "pg";
import type { OwnedSession, SessionStore, SessionWrite, StoredSession } from "../core/store.js";
import { requireDriver } from "./driver.js";
import { checkBatchSize, checkIdentifier, deleteInBatches, recordOf } from "./sql/shared.js";

export interface PostgresStoreOptions {
  /** A pg.Pool you own: the store never ends it. Give either `pool` or `connectionString`. */
  pool?: Pool;
  /** The store creates, owns and (in close()) ends a pg.Pool for this URL. */
  connectionString?: string;
  /** Default "sessions" (the table the docs' DDL creates). Validated as a plain identifier. */
  tableName?: string;
  /** Default undefined: the connection's search_path decides, as for any unqualified table. */
  schemaName?: string;
  /**
   * Default true: CREATE TABLE IF NOT EXISTS (and its expiry index) once, lazily, before the
   * first call. Set false when the application's migrations own the schema or its role may not run DDL.
   */
  createTable?: boolean;
  /** Default 1000: rows per gc DELETE, so one gc never holds locks on a huge set of rows at once. */
  gcBatchSize?: number;
}

// "Already exists" errors that a concurrent CREATE ... IF NOT EXISTS can still raise (a known race on pg_type).
const CREATE_RACE_CODES = new Set(["23505", "42P07", "42701", "42710"]);
// Transient conflicts the server reports itself: serialization failure, deadlock, lock_timeout.
// The store contract makes them "not applied", so the manager re-reads and retries.
const CONFLICT_CODES = new Set(["40001", "40P01", "55P03"]);
const UNDEFINED_COLUMN = "42703";

interface Row {
  key?: string;
  data: Buffer;
  expires_at: string;
  version: number;
  user_id: string | null;
}

/**
 * Sessions in a PostgreSQL table. Data is stored as UTF-8 bytes in a bytea column because a
 * PostgreSQL text value cannot hold U+0000, which JSON strings may contain. Every call is one parameterized statement (named, so each
 * connection parses it once); compare-and-set is done by the statement's WHERE clause, so
 * overlapping requests need no transaction. Expiry is compared to the application's clock.
 * The owner of a signed-in session is a column of its row (`user_id`, indexed), so the record
 * write carries it and listByOwner is one indexed SELECT: no indexOwner() is needed.
 */
export class PostgresStore implements SessionStore {
  readonly #pool: Pool;
  readonly #ownsPool: boolean;
  readonly #gcBatchSize: number;
  readonly #sql: ReturnType<typeof statements>;
  readonly #schema: TableDdl;
  readonly #ddl: TableDdl | undefined;
  #ready: Promise<void> | undefined;

  constructor(options: PostgresStoreOptions) {
    if (options === null || typeof options !== "object") throw new TypeError("PostgresStore needs an options object");
    const table = quotedTable(options.tableName ?? "sessions", options.schemaName);
    this.#gcBatchSize = checkBatchSize(options.gcBatchSize ?? 1000);
    this.#sql = statements(table.qualified);
    this.#schema = createStatements(table.qualified, table.indexPrefix);
    this.#ddl = options.createTable === false ? undefined : this.#schema;
    [this.#pool, this.#ownsPool] = poolOf(options);
  }

  async get(key: string): Promise<StoredSession | null> {
    const result = await this.#query(this.#sql.get, [key, Date.now()]);
    const row = result.rows[0] as Row | undefined;
    return row ? recordOf(row, row.data.toString("utf8")) : null;
  }

  async set(key: string, write: SessionWrite): Promise<boolean> {
    const { expiresAt, version, expectedVersion } = write;
    const data = Buffer.from(write.data, "utf8");
    const owner = write.owner ?? null;
    // Split by expected version: an UPDATE can never create a row, so a write that expects a
    // record which is gone (destroyed by another request) fails instead of reviving it.
    try {
      const result = expectedVersion === 0
        ? await this.#query(this.#sql.insert, [key, data, expiresAt, version, Date.now(), owner])
        : await this.#query(this.#sql.update, [key, data, expiresAt, version, expectedVersion, Date.now(), owner]);
      return result.rowCount === 1;
    } catch (error) {
      if (CONFLICT_CODES.has((error as { code?: string }).code ?? "")) return false;
      throw error;
    }
  }

  /** One indexed SELECT on `user_id`: O(that owner's rows). */
  async listByOwner(owner: string): Promise<OwnedSession[]> {
    const result = await this.#query(this.#sql.listByOwner, [owner, Date.now()]);
    return (result.rows as Required<Row>[]).map((row) => ({ key: row.key, record: recordOf(row, row.data.toString("utf8")) }));
  }

  async destroy(key: string): Promise<void> {
    await this.#query(this.#sql.destroy, [key]);
  }

  async touch(key: string, expiresAt: number): Promise<void> {
    await this.#query(this.#sql.touch, [key, expiresAt, Date.now()]);
  }

  async count(): Promise<number> {
    const result = await this.#query(this.#sql.count, [Date.now()]);
    return Number((result.rows[0] as { live: string }).live);
  }

  /**
   * Deletes expired rows in batches of gcBatchSize, oldest expiry first, until a batch comes back
   * short. Each batch starts at the latest expiry the previous one deleted, so it does not walk
   * the index entries of rows deleted earlier in the run (dead until vacuumed).
   */
  async gc(): Promise<number> {
    const now = Date.now();
    let from = 0;
    return deleteInBatches(this.#gcBatchSize, async () => {
      const batch = (await this.#query(this.#sql.gc, [now, this.#gcBatchSize, from])).rows[0] as { deleted: number; last: string | null };
      if (batch.last !== null) from = Number(batch.last);
      return batch.deleted;
    });
  }

  /**
   * The DDL that `createTable` runs, for migrations and `sessionkit schema`: the table, the
   * `user_id` column a 0.1 table lacks (ADD COLUMN IF NOT EXISTS), the indexes. Idempotent.
   */
  schemaStatements(): string[] {
    const { create, addOwner, indexes } = this.#schema;
    return [create, addOwner, ...indexes];
  }

  /** Creates or upgrades the table now, as `createTable` would, whatever that option says. */
  async applySchema(): Promise<void> {
    await this.#applyDdl(this.#schema);
  }

  /** Ends the pool only if this store created it from `connectionString`. */
  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.end();
  }

  async #query(statement: { name: string; text: string }, values: unknown[]) {
    await (this.#ready ??= this.#createTable());
    const config: QueryConfig = { name: statement.name, text: statement.text, values };
    return this.#pool.query(config);
  }

  async #createTable(): Promise<void> {
    if (!this.#ddl) return;
    try {
      await this.#applyDdl(this.#ddl);
    } catch (error) {
      this.#ready = undefined; // a server that was down at start-up gets another try on the next call
      throw error;
    }
  }

  async #applyDdl(ddl: TableDdl): Promise<void> {
    await this.#ddlQuery(ddl.create);
    await this.#addOwnerColumn(ddl);
    for (const text of ddl.indexes) await this.#ddlQuery(text);
  }

  /**
   * A table created by sessionkit 0.1 has no `user_id`. Probed first rather than altered
   * blindly: ALTER TABLE takes an ACCESS EXCLUSIVE lock even when the column exists.
   */
  async #addOwnerColumn(ddl: TableDdl): Promise<void> {
    try {
      await this.#pool.query(ddl.probeOwner);
    } catch (error) {
      if ((error as { code?: string }).code !== UNDEFINED_COLUMN) throw error;
      await this.#ddlQuery(ddl.addOwner);
    }
  }

  /**
   * Every DDL statement says IF NOT EXISTS, yet two processes creating the same object at once
   * can still collide in the catalog after both checks passed. Such a collision means the other
   * process has committed the object by now, so one retry finds it and succeeds. A retry that
   * fails again is no race (say, a non-table type already holds the table's name) and is thrown.
   */
  async #ddlQuery(text: string): Promise<void> {
    try {
      await this.#pool.query(text);
    } catch (error) {
      if (!CREATE_RACE_CODES.has((error as { code?: string }).code ?? "")) throw error;
      await this.#pool.query(text);
    }
  }
}

function poolOf(options: PostgresStoreOptions): [Pool, boolean] {
  if (options.pool && options.connectionString !== undefined) {
    throw new TypeError('give either option "pool" or option "connectionString", not both');
  }
  if (options.pool) {
    if (typeof options.pool.query !== "function") throw new TypeError('option "pool" must be a pg.Pool');
    return [options.pool, false];
  }
  if (typeof options.connectionString !== "string" || options.connectionString === "") {
    throw new TypeError('PostgresStore needs option "pool" (a pg.Pool) or option "connectionString" (a postgres:// URL)');
  }
  const { Pool } = requireDriver<typeof pg>("pg", "sessionkit/postgres with option \"connectionString\"");
  const pool = new Pool({ connectionString: options.connectionString });
  // An idle client whose server went away emits "error" on the pool; unhandled, that kills the
  // process. The next query reports the failure (as SessionStoreError), so nothing is lost here.
  pool.on("error", () => {});
  return [pool, true];
}

function quotedTable(tableName: string, schemaName: string | undefined) {
  const table = `"${checkIdentifier(tableName, "tableName")}"`;
  const schema = schemaName === undefined ? undefined : `"${checkIdentifier(schemaName, "schemaName")}"`;
  // Index names share the schema's namespace, so they carry the table name (cut to 63 bytes as PostgreSQL would).
  const indexPrefix = (column: string) => `"${`${tableName}_${column}_idx`.slice(0, 63)}"`;
  return { qualified: schema ? `${schema}.${table}` : table, indexPrefix };
}

interface TableDdl {
  create: string;
  probeOwner: string;
  addOwner: string;
  indexes: string[];
}

function createStatements(table: string, indexName: (column: string) => string): TableDdl {
  return {
    create: `CREATE TABLE IF NOT EXISTS ${table} (
  "key" text PRIMARY KEY,
  "data" bytea NOT NULL,
  "expires_at" bigint NOT NULL,
  "version" integer NOT NULL,
  "user_id" text
)`,
    probeOwner: `SELECT "user_id" FROM ${table} LIMIT 0`,
    addOwner: `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS "user_id" text`,
    indexes: [
      `CREATE INDEX IF NOT EXISTS ${indexName("expires_at")} ON ${table} ("expires_at")`,
      `CREATE INDEX IF NOT EXISTS ${indexName("user_id")} ON ${table} ("user_id")`,
    ],
  };
}

/** The statements, named per table: a prepared name must always mean the same text on a connection. */
function statements(table: string) {
  const id = createHash("sha256").update(table).digest("hex").slice(0, 12);
  const named = (purpose: string, text: string) => ({ name: `sessionkit_${purpose}_${id}`, text });
  return {
    get: named("get", `SELECT "data", "expires_at", "version", "user_id" FROM ${table} WHERE "key" = $1 AND "expires_at" > $2`),
    // expected 0: insert, or overwrite a row only if it has expired (an expired row counts as version 0).
    insert: named(
      "insert",
      `INSERT INTO ${table} AS t ("key", "data", "expires_at", "version", "user_id") VALUES ($1, $2, $3, $4, $6)
ON CONFLICT ("key") DO UPDATE SET "data" = EXCLUDED."data", "expires_at" = EXCLUDED."expires_at", "version" = EXCLUDED."version", "user_id" = EXCLUDED."user_id"
WHERE t."expires_at" <= $5`,
    ),
    // GREATEST: a slow request committing after a fast one never shortens the session.
    update: named(
      "update",
      `UPDATE ${table} SET "data" = $2, "expires_at" = GREATEST("expires_at", $3), "version" = $4, "user_id" = $7
WHERE "key" = $1 AND "version" = $5 AND "expires_at" > $6`,
    ),
    listByOwner: named(
      "list_by_owner",
      `SELECT "key", "data", "expires_at", "version", "user_id" FROM ${table} WHERE "user_id" = $1 AND "expires_at" > $2`,
    ),
    destroy: named("destroy", `DELETE FROM ${table} WHERE "key" = $1`),
    // Only a later expiry is written: an earlier one leaves the row (and the WAL) untouched.
    touch: named("touch", `UPDATE ${table} SET "expires_at" = $2 WHERE "key" = $1 AND "expires_at" > $3 AND "expires_at" < $2`),
    count: named("count", `SELECT count(*) AS live FROM ${table} WHERE "expires_at" > $1`),
    // SKIP LOCKED lets two gc runs share the work; the outer re-check means a row revived by a
    // concurrent write after the subquery saw it is left alone (PostgreSQL re-evaluates outer quals on update conflicts).
    // $3 is the latest expiry the run's previous batch deleted (a keyset: rows below it are gone).
    gc: named(
      "gc",
      `WITH deleted AS (DELETE FROM ${table} WHERE "key" IN (SELECT "key" FROM ${table} WHERE "expires_at" <= $1 AND "expires_at" >= $3 ORDER BY "expires_at" LIMIT $2 FOR UPDATE SKIP LOCKED) AND "expires_at" <= $1 RETURNING "expires_at") SELECT count(*)::int AS deleted, max("expires_at") AS last FROM deleted`,
    ),
  };
}

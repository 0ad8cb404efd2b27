import type mysql from "mysql2/promise";
import type { Pool, ResultSetHeader, RowDataPacket } from "mysql2/promise";
import type { OwnedSession, SessionStore, SessionWrite, StoredSession } from "../core/store.js";
import { requireDriver } from "./driver.js";
import { checkBatchSize, checkIdentifier, deleteInBatches, recordOf } from "./sql/shared.js";

export interface MySQLStoreOptions {
  /** A mysql2/promise pool you own: the store never ends it. Give either `pool` or `uri`. */
  pool?: Pool;
  /** The store creates, owns and (in close()) ends a mysql2 pool for this mysql:// URL. */
  uri?: string;
  /** Default "sessions" (the table the docs' DDL creates). Validated as a plain identifier. */
  tableName?: string;
  /** Default undefined: the connection's current database; otherwise the database that holds the table. */
  schemaName?: string;
  /**
   * Default true: CREATE TABLE IF NOT EXISTS once, lazily, before the first call. Set false when the
   * application's migrations own the schema or its user may not run DDL.
   */
  createTable?: boolean;
  /** Default 1000: rows per gc DELETE, so one gc never locks a huge range of the expiry index at once. */
  gcBatchSize?: number;
  /**
   * @deprecated Removed in 0.2: SessionManager's `gcInterval` runs gc(), as for every store. Only
   * 0 (the value 0.1's docs advised beside the manager) is still accepted, and does nothing.
   */
  cleanupInterval?: 0;
}

const ER_DUP_ENTRY = 1062;
const ER_BAD_FIELD_ERROR = 1054;
// A concurrent createTable added the column or index first.
const ALTER_RACE_ERRNOS = new Set([1060, 1061]);
// InnoDB's transient conflicts: ER_LOCK_DEADLOCK (it rolled the statement back) and
// ER_LOCK_WAIT_TIMEOUT. The store contract makes them "not applied": the manager re-reads and retries.
const CONFLICT_ERRNOS = new Set([1213, 1205]);
// A version-0 write retries its INSERT when the expired row it meant to revive vanished (gc).
const REVIVE_ATTEMPTS = 3;

interface Row {
  key?: string;
  data: string;
  expires_at: number | string;
  version: number;
  user_id: string | null;
}

/**
 * Sessions in a MySQL 8 / MariaDB 10.6+ table. Every call is one prepared statement (pool.execute);
 * compare-and-set is done by the statement's WHERE clause, so no transaction is needed.
 * Expiry is compared to the application's clock. The owner of a signed-in session is a column
 * of its row (`user_id`, indexed): the record write carries it, listByOwner is one SELECT.
 */
export class MySQLStore implements SessionStore {
  readonly #pool: Pool;
  readonly #ownsPool: boolean;
  readonly #gcBatchSize: number;
  readonly #sql: ReturnType<typeof statements>;
  readonly #schema: TableDdl;
  readonly #ddl: TableDdl | undefined;
  #ready: Promise<void> | undefined;

  constructor(options: MySQLStoreOptions) {
    if (options === null || typeof options !== "object") throw new TypeError("MySQLStore needs an options object");
    const table = quotedTable(options.tableName ?? "sessions", options.schemaName);
    this.#gcBatchSize = checkBatchSize(options.gcBatchSize ?? 1000);
    if ((options.cleanupInterval ?? 0) !== 0) {
      throw new TypeError('MySQLStore: option "cleanupInterval" was removed in 0.2; SessionManager\'s "gcInterval" runs gc()');
    }
    this.#sql = statements(table, this.#gcBatchSize);
    this.#schema = createStatements(table);
    this.#ddl = options.createTable === false ? undefined : this.#schema;
    [this.#pool, this.#ownsPool] = poolOf(options);
  }

  async get(key: string): Promise<StoredSession | null> {
    const [rows] = await this.#execute<RowDataPacket[]>(this.#sql.get, [key, Date.now()]);
    const row = rows[0] as Row | undefined;
    return row ? recordOf(row, row.data) : null;
  }

  async set(key: string, write: SessionWrite): Promise<boolean> {
    try {
      return await this.#set(key, write);
    } catch (error) {
      if (CONFLICT_ERRNOS.has((error as { errno?: number }).errno ?? 0)) return false;
      throw error;
    }
  }

  /** One indexed SELECT on `user_id`: O(that owner's rows). */
  async listByOwner(owner: string): Promise<OwnedSession[]> {
    const [rows] = await this.#execute<RowDataPacket[]>(this.#sql.listByOwner, [owner, Date.now()]);
    return (rows as Required<Row>[]).map((row) => ({ key: row.key, record: recordOf(row, row.data) }));
  }

  async destroy(key: string): Promise<void> {
    await this.#execute(this.#sql.destroy, [key]);
  }

  async touch(key: string, expiresAt: number): Promise<void> {
    await this.#execute(this.#sql.touch, [expiresAt, key, Date.now(), expiresAt]);
  }

  async count(): Promise<number> {
    const [rows] = await this.#execute<RowDataPacket[]>(this.#sql.count, [Date.now()]);
    return Number((rows[0] as { live: number | string }).live);
  }

  /** Deletes expired rows in batches of gcBatchSize until a batch comes back short. */
  async gc(): Promise<number> {
    const now = Date.now();
    return deleteInBatches(this.#gcBatchSize, async () => (await this.#execute<ResultSetHeader>(this.#sql.gc, [now]))[0].affectedRows);
  }

  /** The CREATE TABLE that `createTable` runs (IF NOT EXISTS), for migrations and `sessionkit schema`. */
  schemaStatements(): string[] {
    return [this.#schema.create];
  }

  /**
   * The upgrade of a table made by sessionkit 0.1 (adds `user_id`): run it once on such a table.
   * Not idempotent, as MySQL 8 has no ADD COLUMN IF NOT EXISTS; `applySchema()` probes first.
   */
  upgradeStatements(): string[] {
    return [this.#schema.addOwner];
  }

  /** Creates or upgrades the table now, as `createTable` would, whatever that option says. */
  async applySchema(): Promise<void> {
    await this.#applyDdl(this.#schema);
  }

  /** Ends the pool only if this store created it from `uri`. */
  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.end();
  }

  async #set(key: string, write: SessionWrite): Promise<boolean> {
    const { data, expiresAt, version, expectedVersion } = write;
    const owner = write.owner ?? null;
    if (expectedVersion > 0) {
      return this.#applied(this.#sql.update, [data, expiresAt, version, owner, key, expectedVersion, Date.now()]);
    }
    // Not INSERT ... ON DUPLICATE KEY UPDATE: with mysql2's default CLIENT_FOUND_ROWS flag an insert and
    // a no-op update both report affectedRows 1, so success could not be told from a conflict.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#applied(this.#sql.insert, [key, data, expiresAt, version, owner]);
      } catch (error) {
        if ((error as { errno?: number }).errno !== ER_DUP_ENTRY) throw error;
      }
      // A row exists: it counts as version 0 only if it has expired.
      if (await this.#applied(this.#sql.reviveExpired, [data, expiresAt, version, owner, key, Date.now()])) return true;
      // Refused: the row is live (a conflict), or gc deleted it since the INSERT failed; then the
      // next INSERT succeeds. Only a live row refuses every round.
      if (attempt === REVIVE_ATTEMPTS) return false;
    }
  }

  async #applied(sql: string, values: unknown[]): Promise<boolean> {
    const [result] = await this.#execute<ResultSetHeader>(sql, values);
    // Each statement touches at most one row, and always changes it (version or expiry moves),
    // so affectedRows is 1 on success with or without CLIENT_FOUND_ROWS.
    return result.affectedRows === 1;
  }

  async #execute<R extends RowDataPacket[] | ResultSetHeader>(sql: string, values: unknown[]) {
    await (this.#ready ??= this.#createTable());
    return this.#pool.execute<R>(sql, values as (string | number)[]);
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
    await this.#pool.query(ddl.create); // DDL cannot always be prepared; the text holds no values.
    await this.#addOwnerColumn(ddl);
  }

  /**
   * A table created by sessionkit 0.1 has no `user_id`. MySQL 8 has no ADD COLUMN IF NOT EXISTS
   * (MariaDB has), so a probe that fails with ER_BAD_FIELD_ERROR decides, the same on both.
   */
  async #addOwnerColumn(ddl: TableDdl): Promise<void> {
    try {
      await this.#pool.query(ddl.probeOwner);
    } catch (error) {
      if ((error as { errno?: number }).errno !== ER_BAD_FIELD_ERROR) throw error;
      await this.#pool.query(ddl.addOwner).catch((alterError: unknown) => {
        if (!ALTER_RACE_ERRNOS.has((alterError as { errno?: number }).errno ?? 0)) throw alterError;
      });
    }
  }
}

function poolOf(options: MySQLStoreOptions): [Pool, boolean] {
  if (options.pool && options.uri !== undefined) throw new TypeError('give either option "pool" or option "uri", not both');
  if (options.pool) {
    if (typeof options.pool.execute !== "function") throw new TypeError('option "pool" must be a mysql2/promise pool');
    return [options.pool, false];
  }
  if (typeof options.uri !== "string" || options.uri === "") {
    throw new TypeError('MySQLStore needs option "pool" (a mysql2/promise pool) or option "uri" (a mysql:// URL)');
  }
  // utf8mb4 on the wire too, so 4-byte characters (emoji) survive the round trip.
  const { createPool } = requireDriver<typeof mysql>("mysql2/promise", "sessionkit/mysql with option \"uri\"", "mysql2");
  return [createPool({ uri: options.uri, charset: "utf8mb4" }), true];
}

function quotedTable(tableName: string, schemaName: string | undefined): string {
  const table = `\`${checkIdentifier(tableName, "tableName")}\``;
  return schemaName === undefined ? table : `\`${checkIdentifier(schemaName, "schemaName")}\`.${table}`;
}

interface TableDdl {
  create: string;
  probeOwner: string;
  addOwner: string;
}

const OWNER_COLUMN = "`user_id` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL";

/**
 * ascii_bin on the key and the owner: both are case-sensitive base64url, and a case-insensitive
 * collation would make two of them collide. MEDIUMTEXT utf8mb4 holds 16 MiB of any Unicode text.
 */
function createStatements(table: string): TableDdl {
  return {
    create: `CREATE TABLE IF NOT EXISTS ${table} (
  \`key\` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  \`data\` MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  \`expires_at\` BIGINT NOT NULL,
  \`version\` INT NOT NULL,
  ${OWNER_COLUMN},
  PRIMARY KEY (\`key\`),
  INDEX \`expires_at_idx\` (\`expires_at\`),
  INDEX \`user_id_idx\` (\`user_id\`)
) ENGINE=InnoDB`,
    probeOwner: `SELECT \`user_id\` FROM ${table} LIMIT 0`,
    addOwner: `ALTER TABLE ${table} ADD COLUMN ${OWNER_COLUMN}, ADD INDEX \`user_id_idx\` (\`user_id\`)`,
  };
}

function statements(table: string, gcBatchSize: number) {
  return {
    get: `SELECT \`data\`, \`expires_at\`, \`version\`, \`user_id\` FROM ${table} WHERE \`key\` = ? AND \`expires_at\` > ?`,
    insert: `INSERT INTO ${table} (\`key\`, \`data\`, \`expires_at\`, \`version\`, \`user_id\`) VALUES (?, ?, ?, ?, ?)`,
    reviveExpired: `UPDATE ${table} SET \`data\` = ?, \`expires_at\` = ?, \`version\` = ?, \`user_id\` = ? WHERE \`key\` = ? AND \`expires_at\` <= ?`,
    // GREATEST: a slow request committing after a fast one never shortens the session. (MySQL
    // assigns left to right, so it reads the stored expires_at: nothing before it changes that column.)
    update: `UPDATE ${table} SET \`data\` = ?, \`expires_at\` = GREATEST(\`expires_at\`, ?), \`version\` = ?, \`user_id\` = ? WHERE \`key\` = ? AND \`version\` = ? AND \`expires_at\` > ?`,
    destroy: `DELETE FROM ${table} WHERE \`key\` = ?`,
    // Only a later expiry is written: an earlier one leaves the row untouched.
    touch: `UPDATE ${table} SET \`expires_at\` = ? WHERE \`key\` = ? AND \`expires_at\` > ? AND \`expires_at\` < ?`,
    listByOwner: `SELECT \`key\`, \`data\`, \`expires_at\`, \`version\`, \`user_id\` FROM ${table} WHERE \`user_id\` = ? AND \`expires_at\` > ?`,
    count: `SELECT COUNT(*) AS live FROM ${table} WHERE \`expires_at\` > ?`,
    // The batch size is a validated integer in the text: a LIMIT placeholder bound as a JS number is
    // sent as DOUBLE by mysql2, which MySQL 8.0.22+ rejects for LIMIT.
    gc: `DELETE FROM ${table} WHERE \`expires_at\` <= ? ORDER BY \`expires_at\` LIMIT ${gcBatchSize}`,
  };
}

import mysql from "mysql2/promise";
import type { Pool } from "mysql2/promise";
import { afterAll, describe, expect, it } from "vitest";
import type { SessionStore } from "../src/index.js";
import { SessionManager, SessionStoreError } from "../src/index.js";
import { MySQLStore } from "../src/stores/mysql.js";
import { storeConformance } from "../src/testing/index.js";
import { MYSQL_URL, serverAvailable } from "./support/servers.js";
import { expectOneStatementPerStep } from "./support/statements.js";

const available = await serverAvailable("MariaDB/MySQL", "MYSQL_URL", MYSQL_URL);
const test = available ? it : it.skip;
const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 10 });
const tables = new WeakMap<SessionStore, string>();
let counter = 0;
const uniqueTable = () => `sk_my_${process.pid}_${++counter}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function drop(table: string): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS \`${table}\``);
}

async function rowsIn(table: string): Promise<number> {
  const [rows] = await pool.query(`SELECT COUNT(*) AS n FROM \`${table}\``);
  return Number((rows as { n: number }[])[0]!.n);
}

/** Rows written straight into the table: `count` expired (expires_at 1) or live ones. */
async function insertRows(table: string, prefix: string, count: number, expiresAt = 1): Promise<void> {
  for (let start = 0; start < count; start += 1000) {
    const rows = Array.from({ length: Math.min(1000, count - start) }, (_, i) => [`${prefix}${start + i}`, "x", expiresAt, 1]);
    await pool.query(`INSERT INTO \`${table}\` (\`key\`, \`data\`, \`expires_at\`, \`version\`) VALUES ?`, [rows]);
  }
}

/** Resolves once a statement on `table` waits for a row lock: the interleaving a deadlock test needs. */
afterAll(async () => {
  await pool.end();
});

const cleanup = async (store: SessionStore) => {
  await store.close?.();
  await drop(tables.get(store)!);
};

await storeConformance(
  "MySQLStore (pool given)",
  () => {
    const tableName = uniqueTable();
    const store = new MySQLStore({ pool, tableName });
    tables.set(store, tableName);
    return store;
  },
  { test, cleanup },
);

await storeConformance(
  "MySQLStore (uri given)",
  () => {
    const tableName = uniqueTable();
    const store = new MySQLStore({ uri: MYSQL_URL, tableName });
    tables.set(store, tableName);
    return store;
  },
  { test, cleanup },
);

/** A pool of its own whose execute() records each statement's text. */
function countingPool(): { pool: Pool; texts: string[]; reset: () => void } {
  const counted = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 2 });
  const texts: string[] = [];
  const original = counted.execute.bind(counted) as (sql: string, values?: unknown) => Promise<unknown>;
  (counted as unknown as { execute: (sql: string, values?: unknown) => Promise<unknown> }).execute = (sql, values) => {
    texts.push(sql);
    return original(sql, values);
  };
  return { pool: counted, texts, reset: () => void texts.splice(0) };
}

// The exact DDL documented in docs/stores/mysql.md for createTable: false.
const documentedDdl = (table: string) => `
CREATE TABLE \`${table}\` (
  \`key\`        VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  \`data\`       MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  \`expires_at\` BIGINT NOT NULL,
  \`version\`    INT NOT NULL,
  \`user_id\`    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  PRIMARY KEY (\`key\`),
  INDEX \`expires_at_idx\` (\`expires_at\`),
  INDEX \`user_id_idx\` (\`user_id\`)
) ENGINE=InnoDB`;

// The table sessionkit 0.1 created, and the upgrade docs/stores/mysql.md gives for it (MySQL 8 and MariaDB).
const ddlOf01 = (table: string) => `
CREATE TABLE \`${table}\` (
  \`key\` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  \`data\` MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  \`expires_at\` BIGINT NOT NULL,
  \`version\` INT NOT NULL,
  PRIMARY KEY (\`key\`),
  INDEX \`expires_at_idx\` (\`expires_at\`)
) ENGINE=InnoDB`;
const documentedUpgrade = (table: string) => `
ALTER TABLE \`${table}\`
  ADD COLUMN \`user_id\` VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD INDEX \`user_id_idx\` (\`user_id\`)`;

const owned = (owner: string, expectedVersion = 0) => ({ data: "x", expiresAt: Date.now() + 60_000, version: expectedVersion + 1, expectedVersion, owner });

describe("MySQLStore", () => {
  test("rejects bad options with a TypeError naming the option", () => {
    expect(() => new MySQLStore({ pool, tableName: "x`; DROP TABLE y; --" })).toThrow(TypeError);
    expect(() => new MySQLStore({ pool, tableName: "bad-name" })).toThrow(/"tableName"/);
    expect(() => new MySQLStore({ pool, schemaName: "test.x" })).toThrow(/"schemaName"/);
    expect(() => new MySQLStore({ pool, gcBatchSize: 1.5 })).toThrow(/"gcBatchSize"/);
    expect(() => new MySQLStore({ pool, cleanupInterval: "5m" as never })).toThrow(/"cleanupInterval" was removed in 0.2; SessionManager's "gcInterval"/);
    expect(() => new MySQLStore({ pool, cleanupInterval: 0 }), "0.1's advised value still loads").not.toThrow();
    expect(() => new MySQLStore({})).toThrow(/"pool".*"uri"/);
    expect(() => new MySQLStore({ pool, uri: MYSQL_URL })).toThrow(/not both/);
  });

  test("createTable: false works against a table made with the documented DDL, and never runs DDL", async () => {
    const tableName = uniqueTable();
    await pool.query(documentedDdl(tableName));
    const counted = countingPool();
    const queries: string[] = [];
    const query = counted.pool.query.bind(counted.pool);
    (counted.pool as unknown as { query: (sql: string) => unknown }).query = (sql: string) => (queries.push(sql), query(sql));
    try {
      const store = new MySQLStore({ pool: counted.pool, tableName, createTable: false });
      const write = { data: "x 🌍", expiresAt: Date.now() + 60_000, version: 1, expectedVersion: 0 };
      expect(await store.set("k", write)).toBe(true);
      expect((await store.get("k"))?.data).toBe("x 🌍");
      expect(queries).toEqual([]);
    } finally {
      await counted.pool.end();
      await drop(tableName);
    }
  });

  test("a table created by 0.1 gets the user_id column and index from createTable, keeping its rows", async () => {
    const tableName = uniqueTable();
    await pool.query(ddlOf01(tableName));
    await pool.query(`INSERT INTO \`${tableName}\` VALUES ('old', 'kept', ?, 1)`, [Date.now() + 60_000]);
    try {
      const stores = [0, 1].map(() => new MySQLStore({ pool, tableName }));
      expect(await Promise.all(stores.map((store) => store.get("old")))).toMatchObject([{ data: "kept" }, { data: "kept" }]);
      expect(await stores[0]!.set("new", owned("alice"))).toBe(true);
      expect((await stores[1]!.listByOwner("alice")).map((entry) => entry.key)).toEqual(["new"]);
      const [indexes] = await pool.query(`SHOW INDEX FROM \`${tableName}\` WHERE Key_name = 'user_id_idx'`);
      expect(indexes).toHaveLength(1);
    } finally {
      await drop(tableName);
    }
  });

  test("the documented upgrade makes a 0.1 table work with createTable: false", async () => {
    const tableName = uniqueTable();
    await pool.query(ddlOf01(tableName));
    await pool.query(documentedUpgrade(tableName));
    try {
      const store = new MySQLStore({ pool, tableName, createTable: false });
      expect(await store.set("k", owned("alice"))).toBe(true);
      expect((await store.listByOwner("alice")).map((entry) => entry.key)).toEqual(["k"]);
    } finally {
      await drop(tableName);
    }
  });

  test("a version-0 write applies when gc deletes the expired row between its INSERT and its revive", async () => {
    const tableName = uniqueTable();
    const counted = countingPool();
    const store = new MySQLStore({ pool: counted.pool, tableName });
    try {
      await store.set("k", { ...owned("alice"), expiresAt: Date.now() - 1 }); // an expired row, not yet collected
      const execute = counted.pool.execute.bind(counted.pool) as (sql: string, values?: unknown) => Promise<unknown>;
      let collected = 0;
      (counted.pool as unknown as { execute: typeof execute }).execute = async (sql, values) => {
        if (/^UPDATE .* `expires_at` <= \?$/.test(sql) && collected++ === 0) expect(await store.gc()).toBe(1); // the interleaving
        return execute(sql, values);
      };
      expect(await store.set("k", owned("bob"))).toBe(true);
      expect(collected).toBe(1);
      expect(await store.get("k")).toMatchObject({ data: "x", version: 1, owner: "bob" });
    } finally {
      await counted.pool.end();
      await drop(tableName);
    }
  });

  test("a write that hits innodb_lock_wait_timeout behind a locked row is a conflict (false), not an error", async () => {
    const tableName = uniqueTable();
    const impatient = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 1 });
    impatient.pool.on("connection", (connection) => void connection.query("SET SESSION innodb_lock_wait_timeout = 1"));
    const holder = await pool.getConnection();
    try {
      const store = new MySQLStore({ pool: impatient, tableName });
      await store.set("k", owned("alice"));
      await holder.query("BEGIN");
      await holder.query(`SELECT 1 FROM \`${tableName}\` WHERE \`key\` = 'k' FOR UPDATE`);
      expect(await store.set("k", owned("alice", 1))).toBe(false);
      await holder.query("ROLLBACK");
      expect(await store.set("k", owned("alice", 1))).toBe(true);
    } finally {
      holder.release();
      await impatient.end();
      await drop(tableName);
    }
  });

  test("MariaDB: with the documented max_statement_time, a commit stuck behind a lock fails and never lands later", async (context) => {
    const [[version]] = (await pool.query("SELECT VERSION() AS v")) as unknown as [[{ v: string }]];
    if (!version.v.includes("MariaDB")) return context.skip("max_statement_time covers writes on MariaDB only (MySQL 8's max_execution_time covers SELECT)");
    const tableName = uniqueTable();
    const bounded = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 2 });
    bounded.pool.on("connection", (connection) => void connection.query("SET SESSION max_statement_time = 0.2")); // docs/stores/mysql.md
    const holder = await pool.getConnection();
    const store = new MySQLStore({ pool: bounded, tableName });
    const sessions = new SessionManager({ store, storeTimeout: "2s", gcInterval: 0 });
    try {
      const first = await sessions.load();
      first.set("step", 1);
      const token = /^sid=([^;]*)/.exec((await sessions.commit(first))[0]!)![1]!;
      const session = await sessions.load(token);
      session.set("step", 2);
      await holder.query("BEGIN");
      await holder.query(`SELECT 1 FROM \`${tableName}\` FOR UPDATE`);
      const error = await sessions.commit(session).then(() => expect.fail("the commit should fail"), (reason: unknown) => reason);
      expect(error).toBeInstanceOf(SessionStoreError);
      expect((error as SessionStoreError).cause).toMatchObject({ errno: 1969 }); // ER_STATEMENT_TIMEOUT: aborted by the server
      await holder.query("COMMIT");
      expect((await sessions.load(token)).get("step")).toBe(1);
    } finally {
      holder.release();
      await sessions.close();
      await bounded.end();
      await drop(tableName);
    }
  });

  test("keys are case-sensitive: two keys differing only in case are two sessions", async () => {
    const tableName = uniqueTable();
    const store = new MySQLStore({ pool, tableName });
    try {
      const expiresAt = Date.now() + 60_000;
      expect(await store.set("AbC", { data: "upper", expiresAt, version: 1, expectedVersion: 0 })).toBe(true);
      expect(await store.set("abc", { data: "lower", expiresAt, version: 1, expectedVersion: 0 })).toBe(true);
      expect((await store.get("AbC"))?.data).toBe("upper");
      expect((await store.get("abc"))?.data).toBe("lower");
    } finally {
      await drop(tableName);
    }
  });

  test("schemaName qualifies the table with that database", async () => {
    const database = `sk_db_${process.pid}`;
    await pool.query(`CREATE DATABASE IF NOT EXISTS \`${database}\``);
    try {
      const store = new MySQLStore({ pool, schemaName: database, tableName: "sessions" });
      await store.set("k", { data: "x", expiresAt: Date.now() + 60_000, version: 1, expectedVersion: 0 });
      const [rows] = await pool.query(`SELECT \`data\` FROM \`${database}\`.\`sessions\``);
      expect(rows).toEqual([{ data: "x" }]);
    } finally {
      await pool.query(`DROP DATABASE \`${database}\``);
    }
  });

  test("gc deletes expired rows in batches of gcBatchSize and returns the exact total", async () => {
    const tableName = uniqueTable();
    const counted = countingPool();
    const store = new MySQLStore({ pool: counted.pool, tableName, gcBatchSize: 1000 });
    try {
      await store.count(); // creates the table
      await insertRows(tableName, "dead", 2500);
      await insertRows(tableName, "live", 7, Date.now() + 60_000);
      counted.reset();
      expect(await store.gc()).toBe(2500);
      expect(counted.texts.filter((text) => text.startsWith("DELETE"))).toHaveLength(3);
      expect(await store.count()).toBe(7);
      expect(await store.gc()).toBe(0);
      await insertRows(tableName, "dead", 2000);
      expect(await store.gc()).toBe(2000); // an exact multiple ends on an empty batch
    } finally {
      await counted.pool.end();
      await drop(tableName);
    }
  });

  test("one statement per load and per commit; none for an unmodified read inside touchInterval", async () => {
    const tableName = uniqueTable();
    const counted = countingPool();
    try {
      await expectOneStatementPerStep(new MySQLStore({ pool: counted.pool, tableName }), counted, /^UPDATE .* SET `expires_at` = \? WHERE/);
    } finally {
      await counted.pool.end();
      await drop(tableName);
    }
  });

  test("the manager's gcInterval removes expired rows (the store has no timer of its own)", async () => {
    const tableName = uniqueTable();
    const store = new MySQLStore({ pool, tableName });
    const sessions = new SessionManager({ store, gcInterval: "100ms" });
    try {
      await store.count(); // creates the table
      await sessions.load(); // the gc timer starts with the manager's first load
      await insertRows(tableName, "dead", 50);
      await insertRows(tableName, "live", 3, Date.now() + 60_000);
      const deadline = Date.now() + 5_000;
      while ((await rowsIn(tableName)) > 3 && Date.now() < deadline) await sleep(50);
      expect(await rowsIn(tableName)).toBe(3);
    } finally {
      await sessions.close();
      await store.close();
      await drop(tableName);
    }
  });

  test("close() ends a pool it created but never a pool it was given", async () => {
    const tableName = uniqueTable();
    const given = new MySQLStore({ pool, tableName });
    await given.count();
    await given.close();
    const [rows] = await pool.query("SELECT 1 AS one");
    expect(rows).toEqual([{ one: 1 }]);
    const owned = new MySQLStore({ uri: MYSQL_URL, tableName });
    await owned.count();
    await owned.close();
    await expect(owned.count()).rejects.toThrow(/closed/i);
    await drop(tableName);
  });
});

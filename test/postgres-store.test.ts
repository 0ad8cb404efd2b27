import pg from "pg";
import type { Pool, QueryConfig } from "pg";
import { afterAll, describe, expect, it } from "vitest";
import type { SessionStore } from "../src/index.js";
import { SessionManager, SessionStoreError } from "../src/index.js";
import { PostgresStore } from "../src/stores/postgres.js";
import { storeConformance } from "../src/testing/index.js";
import { POSTGRES_URL, serverAvailable } from "./support/servers.js";
import { expectOneStatementPerStep } from "./support/statements.js";

const available = await serverAvailable("PostgreSQL", "POSTGRES_URL", POSTGRES_URL);
const test = available ? it : it.skip;
const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 10 });
const tables = new WeakMap<SessionStore, string>();
let counter = 0;
const uniqueTable = () => `sk_pg_${process.pid}_${++counter}`;

async function drop(table: string): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS "${table}"`);
}

afterAll(async () => {
  await pool.end();
});

const cleanup = async (store: SessionStore) => {
  await store.close?.();
  await drop(tables.get(store)!);
};

await storeConformance(
  "PostgresStore (pool given)",
  () => {
    const tableName = uniqueTable();
    const store = new PostgresStore({ pool, tableName });
    tables.set(store, tableName);
    return store;
  },
  { test, cleanup },
);

await storeConformance(
  "PostgresStore (connectionString given)",
  () => {
    const tableName = uniqueTable();
    const store = new PostgresStore({ connectionString: POSTGRES_URL, tableName });
    tables.set(store, tableName);
    return store;
  },
  { test, cleanup },
);

type Query = (config: string | QueryConfig, ...rest: unknown[]) => Promise<unknown>;

/** Counts the statements sent through a pool of its own, by wrapping that pool's query method. */
function countingPool(): { pool: Pool; texts: string[]; values: unknown[][]; reset: () => void } {
  const counted = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  const texts: string[] = [];
  const values: unknown[][] = [];
  const original = counted.query.bind(counted) as Query;
  (counted as unknown as { query: Query }).query = (config, ...rest) => {
    texts.push(typeof config === "string" ? config : config.text);
    values.push(typeof config === "string" ? [] : [...((config as { values?: unknown[] }).values ?? [])]);
    return original(config, ...rest);
  };
  return { pool: counted, texts, values, reset: () => void (texts.splice(0), values.splice(0)) };
}

// The exact DDL documented in docs/stores/postgres.md for createTable: false.
const documentedDdl = (table: string) => `
CREATE TABLE "${table}" (
  "key"        text    PRIMARY KEY,
  "data"       bytea   NOT NULL,
  "expires_at" bigint  NOT NULL,
  "version"    integer NOT NULL,
  "user_id"    text
);
CREATE INDEX "${table}_expires_at_idx" ON "${table}" ("expires_at");
CREATE INDEX "${table}_user_id_idx" ON "${table}" ("user_id");`;

// The table sessionkit 0.1 created, and the upgrade docs/stores/postgres.md gives for it.
const ddlOf01 = (table: string) => documentedDdl(table).replace(/,\n {2}"user_id" {4}text/, "").replace(/CREATE INDEX "\w+_user_id_idx".*;/, "");
const documentedUpgrade = (table: string) => `
ALTER TABLE "${table}" ADD COLUMN IF NOT EXISTS "user_id" text;
CREATE INDEX IF NOT EXISTS "${table}_user_id_idx" ON "${table}" ("user_id");`;

const owned = (owner: string) => ({ data: "x", expiresAt: Date.now() + 60_000, version: 1, expectedVersion: 0, owner });

describe("PostgresStore", () => {
  test("rejects table and schema names that are not plain identifiers, naming the option", () => {
    expect(() => new PostgresStore({ pool, tableName: 'x"; DROP TABLE y; --' })).toThrow(TypeError);
    expect(() => new PostgresStore({ pool, tableName: "bad-name" })).toThrow(/"tableName"/);
    expect(() => new PostgresStore({ pool, tableName: "a".repeat(64) })).toThrow(/"tableName"/);
    expect(() => new PostgresStore({ pool, schemaName: "public.x" })).toThrow(/"schemaName"/);
    expect(() => new PostgresStore({ pool, gcBatchSize: 0 })).toThrow(/"gcBatchSize"/);
    expect(() => new PostgresStore({})).toThrow(/"pool".*"connectionString"/);
    expect(() => new PostgresStore({ pool, connectionString: POSTGRES_URL })).toThrow(/not both/);
  });

  test("createTable: false works against a table made with the documented DDL, and never runs DDL", async () => {
    const tableName = uniqueTable();
    await pool.query(documentedDdl(tableName));
    const counted = countingPool();
    try {
      const { texts } = counted;
      const store = new PostgresStore({ pool: counted.pool, tableName, createTable: false });
      const write = { data: "x", expiresAt: Date.now() + 60_000, version: 1, expectedVersion: 0 };
      expect(await store.set("k", write)).toBe(true);
      expect((await store.get("k"))?.data).toBe("x");
      expect(texts.some((text) => /CREATE/i.test(text))).toBe(false);
    } finally {
      await counted.pool.end();
      await drop(tableName);
    }
  });

  test("a table created by 0.1 gets the user_id column and index from createTable, keeping its rows", async () => {
    const tableName = uniqueTable();
    await pool.query(ddlOf01(tableName));
    await pool.query(`INSERT INTO "${tableName}" VALUES ('old', 'kept', $1::bigint, 1)`, [Date.now() + 60_000]);
    try {
      const stores = [new PostgresStore({ pool, tableName }), new PostgresStore({ pool, tableName })];
      expect(await Promise.all(stores.map((store) => store.get("old")))).toMatchObject([{ data: "kept" }, { data: "kept" }]);
      expect(await stores[0]!.set("new", owned("alice"))).toBe(true);
      expect((await stores[1]!.listByOwner("alice")).map((entry) => entry.key)).toEqual(["new"]);
      const { rows } = await pool.query("SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY indexname", [tableName]);
      expect(rows.map((row: { indexname: string }) => row.indexname)).toEqual([`${tableName}_expires_at_idx`, `${tableName}_pkey`, `${tableName}_user_id_idx`]);
    } finally {
      await drop(tableName);
    }
  });

  test("the documented upgrade makes a 0.1 table work with createTable: false", async () => {
    const tableName = uniqueTable();
    await pool.query(ddlOf01(tableName));
    await pool.query(documentedUpgrade(tableName));
    try {
      const store = new PostgresStore({ pool, tableName, createTable: false });
      expect(await store.set("k", owned("alice"))).toBe(true);
      expect((await store.listByOwner("alice")).map((entry) => entry.key)).toEqual(["k"]);
    } finally {
      await drop(tableName);
    }
  });

  test("listByOwner is one statement on the user_id index", async () => {
    const tableName = uniqueTable();
    const counted = countingPool();
    try {
      const store = new PostgresStore({ pool: counted.pool, tableName });
      await store.set("k", owned("alice"));
      counted.reset();
      await store.listByOwner("alice");
      expect(counted.texts).toHaveLength(1);
      const client = await pool.connect();
      try {
        await client.query("SET enable_seqscan = off"); // a one-row table would be scanned anyway
        const { rows } = await client.query(`EXPLAIN SELECT "key" FROM "${tableName}" WHERE "user_id" = 'alice'`);
        expect(JSON.stringify(rows)).toMatch(/user_id_idx/);
      } finally {
        await client.query("RESET enable_seqscan");
        client.release();
      }
    } finally {
      await counted.pool.end();
      await drop(tableName);
    }
  });

  test("a write that hits lock_timeout behind a locked row is a conflict (false), not an error", async () => {
    const tableName = uniqueTable();
    const impatient = new pg.Pool({ connectionString: POSTGRES_URL, max: 1, options: "-c lock_timeout=100" });
    const holder = await pool.connect();
    try {
      const store = new PostgresStore({ pool: impatient, tableName });
      await store.set("k", owned("alice"));
      await holder.query("BEGIN");
      await holder.query(`SELECT 1 FROM "${tableName}" WHERE "key" = 'k' FOR UPDATE`);
      expect(await store.set("k", { ...owned("alice"), version: 2, expectedVersion: 1 })).toBe(false);
      await holder.query("ROLLBACK");
      expect(await store.set("k", { ...owned("alice"), version: 2, expectedVersion: 1 })).toBe(true);
    } finally {
      holder.release();
      await impatient.end();
      await drop(tableName);
    }
  });

  test("with the documented statement_timeout, a commit stuck behind a lock fails and never lands later", async () => {
    const tableName = uniqueTable();
    // docs/stores/postgres.md: statement_timeout below the manager's storeTimeout.
    const bounded = new pg.Pool({ connectionString: POSTGRES_URL, max: 2, statement_timeout: 200 });
    const holder = await pool.connect();
    const store = new PostgresStore({ pool: bounded, tableName });
    const sessions = new SessionManager({ store, storeTimeout: "2s", gcInterval: 0 });
    try {
      const first = await sessions.load();
      first.set("step", 1);
      const token = /^sid=([^;]*)/.exec((await sessions.commit(first))[0]!)![1]!;
      const session = await sessions.load(token);
      session.set("step", 2);
      await holder.query("BEGIN");
      await holder.query(`SELECT 1 FROM "${tableName}" FOR UPDATE`);
      const error = await sessions.commit(session).then(() => expect.fail("the commit should fail"), (reason: unknown) => reason);
      expect(error).toBeInstanceOf(SessionStoreError);
      expect((error as SessionStoreError).cause).toMatchObject({ code: "57014" }); // canceled by the server
      await holder.query("COMMIT");
      expect((await sessions.load(token)).get("step")).toBe(1);
    } finally {
      holder.release();
      await sessions.close();
      await bounded.end();
      await drop(tableName);
    }
  });

  test("createTable: false on a missing table fails loudly instead of creating it", async () => {
    const store = new PostgresStore({ pool, tableName: uniqueTable(), createTable: false });
    await expect(store.get("k")).rejects.toMatchObject({ code: "42P01" });
  });

  test("concurrent stores creating the same new table all succeed", async () => {
    // Connected beforehand so the six CREATEs really overlap (unguarded, most fail with 23505).
    // Several rounds: the rarer collisions (42710 on the row type) need many tries to show up.
    const pools = Array.from({ length: 6 }, () => new pg.Pool({ connectionString: POSTGRES_URL, max: 1 }));
    await Promise.all(pools.map((each) => each.query("SELECT 1")));
    try {
      for (let round = 0; round < 8; round++) {
        const tableName = uniqueTable();
        try {
          const results = await Promise.all(pools.map((each) => new PostgresStore({ pool: each, tableName }).get("k")));
          expect(results).toEqual(Array(6).fill(null));
        } finally {
          await drop(tableName);
        }
      }
    } finally {
      await Promise.all(pools.map((each) => each.end()));
    }
  });

  test("a CREATE that loses the race on the table's row type (42710) still succeeds", async () => {
    // The real interleaving (another process commits the table between the server's relation
    // check and its type check) is too narrow to force from outside the server, so this pool
    // lets another store create the table first, then reports what the server reports then.
    const tableName = uniqueTable();
    const racing = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    const query = racing.query.bind(racing) as (text: unknown) => Promise<unknown>;
    let raced = false;
    (racing as unknown as { query: typeof query }).query = async (text) => {
      if (raced || typeof text !== "string" || !text.startsWith("CREATE TABLE")) return query(text);
      raced = true;
      await new PostgresStore({ pool, tableName }).get("k");
      throw Object.assign(new Error(`type "${tableName}" already exists`), { code: "42710" });
    };
    try {
      expect(await new PostgresStore({ pool: racing, tableName }).get("k")).toBeNull();
      expect(raced).toBe(true);
    } finally {
      await racing.end();
      await drop(tableName);
    }
  });

  test("a name held by a type (an enum) fails with that error, not a later 'no such table'", async () => {
    const tableName = uniqueTable();
    await pool.query(`CREATE TYPE "${tableName}" AS ENUM ('a')`);
    try {
      await expect(new PostgresStore({ pool, tableName }).get("k")).rejects.toMatchObject({ code: "42710" });
    } finally {
      await pool.query(`DROP TYPE "${tableName}"`);
    }
  });

  test("schemaName puts the table in that schema instead of the search_path", async () => {
    const schema = `sk_schema_${process.pid}`;
    await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    try {
      const store = new PostgresStore({ pool, schemaName: schema, tableName: "sessions" });
      await store.set("k", { data: "x", expiresAt: Date.now() + 60_000, version: 1, expectedVersion: 0 });
      const { rows } = await pool.query(`SELECT convert_from("data", 'UTF8') AS data FROM "${schema}"."sessions"`);
      expect(rows).toEqual([{ data: "x" }]);
    } finally {
      await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    }
  });

  test("gc deletes expired rows in batches of gcBatchSize and returns the exact total", async () => {
    const tableName = uniqueTable();
    const counted = countingPool();
    const store = new PostgresStore({ pool: counted.pool, tableName, gcBatchSize: 1000 });
    try {
      await store.count(); // creates the table
      await pool.query(`INSERT INTO "${tableName}" SELECT 'dead' || g, 'x', 1, 1 FROM generate_series(1, 2500) g`);
      await pool.query(`INSERT INTO "${tableName}" SELECT 'live' || g, 'x', $1::bigint, 1 FROM generate_series(1, 7) g`, [Date.now() + 60_000]);
      counted.reset();
      const { texts } = counted;
      expect(await store.gc()).toBe(2500);
      expect(texts.filter((text) => text.includes("DELETE FROM"))).toHaveLength(3);
      expect(await store.count()).toBe(7);
      expect(await store.gc()).toBe(0);
      await pool.query(`INSERT INTO "${tableName}" SELECT 'dead' || g, 'x', 1, 1 FROM generate_series(1, 2000) g`);
      expect(await store.gc()).toBe(2000); // an exact multiple ends on an empty batch
    } finally {
      await counted.pool.end();
      await drop(tableName);
    }
  });

  test("gc batches go oldest expiry first, each starting at the last expiry the batch before deleted", async () => {
    const tableName = uniqueTable();
    const counted = countingPool();
    const store = new PostgresStore({ pool: counted.pool, tableName, gcBatchSize: 1000 });
    try {
      await store.count();
      await pool.query(`INSERT INTO "${tableName}" SELECT 'dead' || g, 'x', g, 1 FROM generate_series(1, 2500) g`);
      counted.reset();
      expect(await store.gc()).toBe(2500);
      const starts = counted.texts.flatMap((text, i) => (text.includes("DELETE FROM") ? [Number(counted.values[i]![2])] : []));
      // Rows below a batch's start were deleted by the batches before: no batch walks their index entries again.
      expect(starts).toEqual([0, 1000, 2000]);
    } finally {
      await counted.pool.end();
      await drop(tableName);
    }
  });

  test("one statement per load and per commit; none for an unmodified read inside touchInterval", async () => {
    const tableName = uniqueTable();
    const counted = countingPool();
    try {
      await expectOneStatementPerStep(new PostgresStore({ pool: counted.pool, tableName }), counted, /^UPDATE .* SET "expires_at" = \$2 /);
    } finally {
      await counted.pool.end();
      await drop(tableName);
    }
  });

  test("close() ends a pool it created but never a pool it was given", async () => {
    const tableName = uniqueTable();
    const given = new PostgresStore({ pool, tableName });
    await given.count();
    await given.close();
    expect((await pool.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    const owned = new PostgresStore({ connectionString: POSTGRES_URL, tableName });
    await owned.count();
    await owned.close();
    await expect(owned.count()).rejects.toThrow(/pool/i);
    await drop(tableName);
  });
});

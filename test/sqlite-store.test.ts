import type { ChildProcess } from "node:child_process";
import type { Client } from "@libsql/client";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { SessionStore, StoredSession } from "../src/index.js";
import { SessionManager } from "../src/index.js";
import type { LibsqlClient, SyncSqliteDatabase } from "../src/stores/sqlite.js";
import { SqliteStore } from "../src/stores/sqlite.js";
import { storeConformance } from "../src/testing/index.js";
import { BETTER_SQLITE3, NODE_SQLITE, SQLITE_PATH, firstRow, openConnection, sqlitePayload } from "./support/sqlite.js";

const dir = mkdtempSync(join(tmpdir(), "sessionkit-sqlite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const freshFile = () => join(dir, `s${++counter}.db`);

if (!NODE_SQLITE) console.info(`sqlite-store: node:sqlite cases skipped: Node ${process.version} has no node:sqlite (needs 22.13+)`);
if (!BETTER_SQLITE3) console.info(`sqlite-store: better-sqlite3 cases skipped: its binary does not load on Node ${process.version} (npm rebuild better-sqlite3)`);

/** The drivers whose connection a user can pass in, with whether this Node can run each. */
const GIVEN = [
  { driver: "node:sqlite", available: NODE_SQLITE },
  { driver: "better-sqlite3", available: BETTER_SQLITE3 },
  { driver: "libsql", available: true },
] as const;

const connections = new WeakMap<SessionStore, SyncSqliteDatabase | Client>();

/** A store on a fresh file over a connection of `driver` that the test owns (and closes after the store). */
async function givenStore(driver: string, options: { busyTimeout?: number; gcBatchSize?: number } = {}): Promise<SqliteStore> {
  const database = await openConnection(driver, freshFile(), options.busyTimeout);
  const store = new SqliteStore({ database, gcBatchSize: options.gcBatchSize });
  connections.set(store, database);
  return store;
}

async function closeGiven(store: SessionStore): Promise<void> {
  await store.close?.();
  connections.get(store)?.close();
}

await storeConformance("SqliteStore (path given)", () => new SqliteStore({ path: freshFile() }), { test: SQLITE_PATH ? it : it.skip });
for (const { driver, available } of GIVEN) {
  await storeConformance(`SqliteStore (${driver} connection given)`, () => givenStore(driver), { test: available ? it : it.skip, cleanup: closeGiven });
}

const WORKER = join(import.meta.dirname, "support", "sqlite-store-worker.ts");

function startWorker(args: string[]): { child: ChildProcess; ready: Promise<void>; exited: Promise<number | null>; output: () => string } {
  const child = spawn(process.execPath, ["--import", "tsx", WORKER, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", () => stdout.includes("ready") && resolve());
    child.once("exit", (code) => reject(new Error(`worker exited (${code}) before ready: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      if (code !== 0 && code !== null) console.error(stderr);
      resolve(code);
    }),
  );
  return { child, ready, exited, output: () => stdout };
}

/**
 * The libraries a worker process uses: "path" opens with node:sqlite where Node has it, else with
 * better-sqlite3, so each library is proven across processes on one of CI's Nodes.
 */
const WORKER_DRIVERS = [
  { driver: "path", available: SQLITE_PATH },
  { driver: "libsql", available: true },
] as const;

describe.each(WORKER_DRIVERS)("SqliteStore across processes ($driver)", ({ driver, available }) => {
  const test = available ? it : it.skip;
  // This process opens the file with the library the workers use: libSQL and stock SQLite do not
  // see each other's write lock (docs/stores/sqlite.md), so they must never share a file.
  const own = driver === "path" ? (NODE_SQLITE ? "node:sqlite" : "better-sqlite3") : driver;

  test("two processes incrementing one record by compare-and-set lose no update", async () => {
    const file = freshFile();
    const store = new SqliteStore({ database: await openConnection(own, file) });
    const perWorker = 40;
    try {
      expect(await store.set("counter", { data: "0", expiresAt: Date.now() + 600_000, version: 1, expectedVersion: 0 })).toBe(true);
      const workers = [0, 1].map(() => startWorker(["increment", driver, file, String(perWorker)]));
      await Promise.all(workers.map((worker) => worker.ready));
      for (const worker of workers) worker.child.stdin!.write("go\n");
      expect(await Promise.all(workers.map((worker) => worker.exited))).toEqual([0, 0]);
      const final = await store.get("counter");
      expect(final).toMatchObject({ data: String(2 * perWorker), version: 1 + 2 * perWorker });
      const conflicts = workers.map((worker) => /conflicts (\d+)/.exec(worker.output())![1]);
      console.info(`SqliteStore (${driver}): ${2 * perWorker} increments from 2 processes, conflicts retried: ${conflicts.join(" + ")}`);
    } finally {
      await closeGiven(store);
    }
  }, 60_000);

  test("a writer SIGKILLed mid-write loses no acknowledged record and leaves no torn one", async () => {
    for (let round = 0; round < 2; round++) {
      const file = freshFile();
      const worker = startWorker(["write", driver, file]);
      await worker.ready;
      const acks = () => [...worker.output().matchAll(/ack (\d+)/g)].length;
      // Killed once it has acknowledged a few writes, while it is writing the next one.
      await new Promise<void>((resolve) => {
        const check = () => {
          if (acks() < 5 + round * 3) return;
          worker.child.kill("SIGKILL");
          worker.child.stdout!.off("data", check);
          resolve();
        };
        worker.child.stdout!.on("data", check);
      });
      expect(await worker.exited).toBe(null);
      const acknowledged = acks();
      const database = await openConnection(own, file);
      const store = new SqliteStore({ database });
      try {
        for (let i = 0; i < acknowledged; i++) expect((await store.get(`k${i}`))?.data, `k${i} was acknowledged before the kill`).toBe(sqlitePayload(i));
        // The write in flight at the kill is all there or not there at all.
        const inFlight = await store.get(`k${acknowledged}`);
        if (inFlight) expect(inFlight.data).toBe(sqlitePayload(acknowledged));
        expect(await firstRow(database, "PRAGMA integrity_check")).toMatchObject({ integrity_check: "ok" });
      } finally {
        await closeGiven(store);
      }
    }
  }, 60_000);
});

/** The sync connection this Node can open (node:sqlite, else better-sqlite3), for the driver-independent cases. */
const SYNC = NODE_SQLITE ? "node:sqlite" : BETTER_SQLITE3 ? "better-sqlite3" : undefined;
const syncTest = SYNC ? it : it.skip;
const expired = (i: number) => ({ data: `dead ${i}`, expiresAt: Date.now() - 1000, version: 1, expectedVersion: 0 });
const live = (data = "x", expectedVersion = 0, owner?: string) => ({ data, expiresAt: Date.now() + 60_000, version: expectedVersion + 1, expectedVersion, ...(owner ? { owner } : {}) });

// The exact DDL documented in docs/stores/sqlite.md for createTable: false.
const documentedDdl = `
CREATE TABLE "sessions" (
  "key"        TEXT    PRIMARY KEY NOT NULL,
  "data"       TEXT    NOT NULL,
  "expires_at" INTEGER NOT NULL,
  "version"    INTEGER NOT NULL,
  "user_id"    TEXT
);
CREATE INDEX "sessions_expires_at_idx" ON "sessions" ("expires_at");
CREATE INDEX "sessions_user_id_idx" ON "sessions" ("user_id");`;

describe("SqliteStore", () => {
  syncTest("rejects bad options with a TypeError naming the option", () => {
    const path = freshFile();
    expect(() => new SqliteStore({ path, tableName: 'x"; DROP TABLE y; --' })).toThrow(/"tableName"/);
    expect(() => new SqliteStore({ path, gcBatchSize: 0 })).toThrow(/"gcBatchSize"/);
    expect(() => new SqliteStore({ path, busyTimeout: -1 })).toThrow(/"busyTimeout"/);
    expect(() => new SqliteStore({})).toThrow(/"database".*"path"/);
    expect(() => new SqliteStore({ path: "" })).toThrow(/"database".*"path"/);
    expect(() => new SqliteStore({ database: { query: () => 1 } as never })).toThrow(/option "database" must be a node:sqlite DatabaseSync/);
    expect(() => new SqliteStore({ path, database: {} as never })).toThrow(/not both/);
  });

  it.each(GIVEN)("detects a $driver connection once, at construction", async ({ driver, available }) => {
    if (!available) return;
    const store = await givenStore(driver);
    try {
      expect(store.driver).toBe(driver === "libsql" ? "@libsql/client" : driver);
    } finally {
      await closeGiven(store);
    }
  });

  // bun:sqlite and D1 run for real in test/runtimes.test.ts (on Bun, in workerd); here only their shapes.
  it("takes an object with prepare() and batch() for a D1 binding", () => {
    const d1 = { prepare: () => ({}), batch: async () => [] };
    expect(new SqliteStore({ database: d1 as never, createTable: false }).driver).toBe("d1");
  });

  /** A connection of this Node's synchronous library, shaped as bun:sqlite's (query()) and with text reads optionally cut at U+0000. */
  async function bunShaped(cutAtNul: boolean): Promise<{ database: SyncSqliteDatabase; close: () => void }> {
    const db = (await openConnection(SYNC!, freshFile())) as SyncSqliteDatabase;
    const cut = (row: unknown) =>
      cutAtNul && row && typeof row === "object"
        ? Object.fromEntries(Object.entries(row).map(([column, value]) => [column, typeof value === "string" ? value.split("\0")[0] : value]))
        : row;
    const database = {
      prepare: (sql: string) => {
        const statement = db.prepare(sql);
        return { get: (...params: never[]) => cut(statement.get(...params)), all: (...params: never[]) => statement.all(...params).map(cut), run: (...params: never[]) => statement.run(...params) };
      },
      exec: (sql: string) => db.exec(sql),
      close: () => {},
      query: () => {},
    };
    return { database, close: () => db.close() };
  }

  syncTest("takes an object with prepare(), exec() and query() for a bun:sqlite Database, and drives it synchronously", async () => {
    const { database, close } = await bunShaped(false);
    try {
      const store = new SqliteStore({ database });
      expect(store.driver).toBe("bun:sqlite");
      expect(store.set("k", live("a"))).toBe(true);
    } finally {
      close();
    }
  });

  syncTest("reads the data of a connection whose text stops at U+0000 (Deno's node:sqlite) as bytes, whole", async () => {
    for (const cutAtNul of [false, true]) {
      const { database, close } = await bunShaped(cutAtNul);
      try {
        const store = new SqliteStore({ database });
        expect(store.set("k", live("a\u0000b"))).toBe(true);
        expect((store.get("k") as StoredSession).data, `text cut at U+0000: ${cutAtNul}`).toBe("a\u0000b");
      } finally {
        close();
      }
    }
  });

  syncTest("a synchronous driver answers every call with a plain value, never a promise", () => {
    const store = new SqliteStore({ path: freshFile() });
    try {
      expect(store.driver).toBe(SYNC);
      const results = [
        store.set("k", live("v1", 0, "ann")),
        store.get("k"),
        store.touch("k", Date.now() + 120_000),
        store.listByOwner("ann"),
        store.count(),
        store.destroy("k"),
        store.get("k"),
      ];
      for (const result of results) expect(result).not.toBeInstanceOf(Promise);
      expect(results[0]).toBe(true);
      expect(results[1]).toMatchObject({ data: "v1", version: 1, owner: "ann" });
      expect(results[3]).toMatchObject([{ key: "k" }]);
      expect(results[4]).toBe(1);
      expect(results[6]).toBe(null);
    } finally {
      void store.close();
    }
  });

  syncTest("a path gets WAL mode, so a reader never waits for a writer in another connection", async () => {
    const path = freshFile();
    const store = new SqliteStore({ path });
    const other = (await openConnection(SYNC!, path)) as SyncSqliteDatabase;
    try {
      expect(other.prepare("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
      store.set("k", live("before"));
      other.exec("BEGIN IMMEDIATE");
      other.prepare(`UPDATE "sessions" SET "data" = 'uncommitted'`).run();
      expect(store.get("k")).toMatchObject({ data: "before" }); // no wait, and not the uncommitted write
      other.exec("COMMIT");
      expect(store.get("k")).toMatchObject({ data: "uncommitted" });
    } finally {
      other.close();
      void store.close();
    }
  });

  it.each(GIVEN)("$driver: a write that waits out the busy timeout behind another writer is a conflict (false), not an error", async ({ driver, available }) => {
    if (!available) return;
    const store = await givenStore(driver, { busyTimeout: 50 });
    const holder = await openConnection(driver, join(dir, `s${counter}.db`));
    try {
      expect(await store.set("k", live())).toBe(true);
      // The holder takes the write lock and keeps it.
      const transaction = "execute" in holder ? await holder.transaction("write") : (holder.exec("BEGIN IMMEDIATE"), undefined);
      expect(await store.set("k", live("blocked", 1))).toBe(false);
      expect(await store.set("new", live())).toBe(false);
      if (transaction) await transaction.rollback();
      else (holder as SyncSqliteDatabase).exec("ROLLBACK");
      expect(await store.set("k", live("after", 1))).toBe(true);
      expect(await store.get("k")).toMatchObject({ data: "after", version: 2 });
    } finally {
      holder.close();
      await closeGiven(store);
    }
  });

  syncTest("a path whose table cannot be made throws from the constructor and leaves the file closed", async () => {
    const path = freshFile();
    const setup = (await openConnection(SYNC!, path)) as SyncSqliteDatabase;
    setup.exec(`CREATE VIEW "sessions" AS SELECT 1 AS "key"`); // the name is taken by something that is not a table
    setup.close();
    expect(() => new SqliteStore({ path })).toThrow("views may not be indexed");
    // SQLite removes the WAL file when the last connection closes: a leaked handle would keep it.
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  syncTest("createTable: false works against a table made with the documented DDL, and runs no DDL", async () => {
    const path = freshFile();
    const setup = (await openConnection(SYNC!, path)) as SyncSqliteDatabase;
    try {
      expect(() => new SqliteStore({ database: setup, createTable: false }).get("k")).toThrow(/no such table/);
      setup.exec(documentedDdl);
      const store = new SqliteStore({ database: setup, createTable: false });
      expect(store.set("k", live("x 🌍\u0000y", 0, "ann"))).toBe(true);
      expect(store.get("k")).toMatchObject({ data: "x 🌍\u0000y", owner: "ann" });
      // The store's own schema is the documented one: same tables and indexes, column for column.
      const schemaOf = (db: SyncSqliteDatabase) => db.prepare(`SELECT "type", "name", "tbl_name" FROM sqlite_schema ORDER BY "name"`).all();
      const other = new SqliteStore({ path: freshFile() });
      const made = (await openConnection(SYNC!, join(dir, `s${counter}.db`))) as SyncSqliteDatabase;
      expect(schemaOf(made)).toEqual(schemaOf(setup));
      made.close();
      void other.close();
    } finally {
      setup.close();
    }
  });

  syncTest("listByOwner and gc use their indexes, never a scan of all sessions", async () => {
    const path = freshFile();
    const store = new SqliteStore({ path });
    const db = (await openConnection(SYNC!, path)) as SyncSqliteDatabase;
    try {
      const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((row) => row.detail).join("; ");
      expect(plan(`SELECT "key" FROM "sessions" WHERE "user_id" = 'a' AND "expires_at" > 1`)).toMatch(/USING INDEX sessions_user_id_idx/);
      expect(plan(`SELECT "key" FROM "sessions" WHERE "expires_at" <= 1 LIMIT 10`)).toMatch(/USING (COVERING )?INDEX sessions_expires_at_idx/);
    } finally {
      db.close();
      void store.close();
    }
  });

  syncTest("gc deletes expired rows in batches of gcBatchSize, each its own transaction, and lets other work run in between", async () => {
    const path = freshFile();
    const store = new SqliteStore({ path, gcBatchSize: 1000 });
    const reader = (await openConnection(SYNC!, path)) as SyncSqliteDatabase;
    const rows = () => Number((reader.prepare(`SELECT count(*) AS n FROM "sessions"`).get() as { n: number }).n);
    try {
      for (let i = 0; i < 2500; i++) store.set(`dead${i}`, expired(i));
      for (let i = 0; i < 7; i++) store.set(`live${i}`, live());
      const between: number[] = [];
      const probe = () => {
        between.push(rows());
        if (between.length < 3) setImmediate(probe);
      };
      setImmediate(probe);
      expect(await store.gc()).toBe(2500);
      // Another connection saw each batch committed on its own while the gc went on.
      expect(between.slice(0, 2)).toEqual([1507, 507]);
      expect(store.count()).toBe(7);
      expect(await store.gc()).toBe(0);
      for (let i = 0; i < 2000; i++) store.set(`dead${i}`, expired(i));
      expect(await store.gc()).toBe(2000); // an exact multiple ends on an empty batch
      expect(rows()).toBe(7);
    } finally {
      reader.close();
      void store.close();
    }
  });

  it("libsql: gc sends one DELETE per batch", async () => {
    const client = (await openConnection("libsql", freshFile())) as LibsqlClient;
    const texts: string[] = [];
    const counting: LibsqlClient = { protocol: client.protocol, close: () => client.close(), execute: (statement) => (texts.push(statement.sql), client.execute(statement)) };
    const store = new SqliteStore({ database: counting, gcBatchSize: 10 });
    try {
      for (let i = 0; i < 25; i++) await store.set(`dead${i}`, expired(i));
      texts.splice(0);
      expect(await store.gc()).toBe(25);
      expect(texts.filter((text) => text.startsWith("DELETE"))).toHaveLength(3);
    } finally {
      client.close();
    }
  });

  it.each(GIVEN)("$driver: close() leaves a connection it was given open", async ({ driver, available }) => {
    if (!available) return;
    const store = await givenStore(driver);
    await store.set("k", live());
    await store.close();
    const database = connections.get(store)!;
    const still = new SqliteStore({ database });
    expect(await still.get("k")).toMatchObject({ data: "x" });
    database.close();
  });

  it.each([...GIVEN, { driver: "path", available: SQLITE_PATH }])("$driver: a call after close() is an error that says so", async ({ driver, available }) => {
    if (!available) return;
    const store = driver === "path" ? new SqliteStore({ path: freshFile() }) : await givenStore(driver);
    expect(await store.count()).toBe(0);
    await store.close();
    expect(() => store.count()).toThrow("SqliteStore: the store is closed");
    connections.get(store)?.close();
  });

  syncTest("close() closes a database it opened from path", async () => {
    const path = freshFile();
    const store = new SqliteStore({ path });
    store.set("k", live());
    await store.close();
    // Closed, so SQLite checkpointed the WAL into the file and removed it (it does so at the last close).
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  syncTest("sessions survive a restart: a new store on the same file loads them", async () => {
    const path = freshFile();
    const sessions = new SessionManager({ store: new SqliteStore({ path }), gcInterval: 0 });
    const session = await sessions.load();
    session.set("n", 1);
    const token = /^sid=([^;]*)/.exec((await sessions.commit(session))[0]!)![1]!;
    await sessions.close();
    const again = new SessionManager({ store: new SqliteStore({ path }), gcInterval: 0 });
    expect((await again.load(token)).get("n")).toBe(1);
    await again.close();
  });
});

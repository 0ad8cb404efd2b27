/**
 * Floor contestants: the same Express 5 routes doing exactly one raw round trip to a store per
 * request, with no session library. No session layer on that store can cost less, so a
 * session library's CPU over its floor is what the library itself adds.
 *   /login  makes an id, stores counter 0 (seeding, not measured), sets `floor=<id>`
 *   /read   one read of the counter: Redis GET, SQL primary-key SELECT, DynamoDB GetItem, one file read, one Map get
 *   /write  one write of counter+1: Redis INCR, SQL one-statement upsert, DynamoDB PutItem, one atomic
 *           file write (temp file + rename; the file and DynamoDB floors keep the counters in memory, so a
 *           write needs no read),
 *           one Map set
 * A load-then-save floor (`readFirst`) does the read, then the write, on /write: the two round trips a
 * session store's write needs, since the session is loaded before the handler changes it.
 * The memory floor also mounts one middleware (checking that the cookie is there), since any
 * session library is one: Express's router charges every `app.use` layer on every request.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTableCommand, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import express from "express";
import type { Request, Response } from "express";
import { createPool } from "mysql2/promise";
import type { RowDataPacket } from "mysql2/promise";
import pg from "pg";
import { createClient } from "redis";
import { MYSQL_URL, POSTGRES_URL, REDIS_URL } from "../../lib.js";
import { stats } from "../routes.js";
import type { Built } from "../stores.js";
import { dropDynamo, dynamoClient, openSqlite, uniqueTable } from "../stores.js";

/** One store's three operations, each a single round trip. */
interface FloorStore {
  create(id: string): Promise<void>;
  read(id: string): Promise<number | null>;
  increment(id: string): Promise<number>;
}

const COOKIE = "floor=";
const POOL_SIZE = 10; // as the sessionkit and peer contestants

function idOf(req: Request): string | undefined {
  return floorId(req.headers.cookie);
}

/** The floor's session id: the 32 hex characters after `floor=` in the Cookie header. */
export function floorId(cookieHeader: string | undefined): string | undefined {
  const at = cookieHeader?.indexOf(COOKIE) ?? -1;
  return at < 0 ? undefined : cookieHeader!.slice(at + COOKIE.length, at + COOKIE.length + 32);
}

/** The memory floor's counters: one Map get to read, a get and a set to write (undefined: no such session). */
export function memoryCounters() {
  const counters = new Map<string, number>();
  return {
    /** A new session's Set-Cookie value. */
    login(): string {
      const id = randomBytes(16).toString("hex");
      stats.logins++;
      counters.set(id, 0);
      return `${COOKIE}${id}; Path=/; HttpOnly; SameSite=Lax`;
    },
    read: (id: string): number | undefined => counters.get(id),
    write(id: string): number | undefined {
      const count = counters.get(id);
      if (count === undefined) return undefined;
      stats.writes++;
      counters.set(id, count + 1);
      return count + 1;
    },
  };
}

function floorApp(store: FloorStore, readFirst: boolean): Server {
  const app = express();
  const failed = (res: Response) => (error: unknown) => void res.status(500).send(String(error));
  app.get("/login", (_req, res) => {
    const id = randomBytes(16).toString("hex");
    stats.logins++;
    store.create(id).then(() => void res.cookie("floor", id, { httpOnly: true, sameSite: "lax" }).send("0"), failed(res));
  });
  app.get("/read", (req, res) => {
    const id = idOf(req);
    if (!id) return void res.status(401).send("no session");
    store.read(id).then((count) => void (count === null ? res.status(401).send("no session") : res.send(String(count))), failed(res));
  });
  const increment = (id: string, res: Response) => {
    stats.writes++;
    store.increment(id).then((count) => void res.send(String(count)), failed(res));
  };
  app.get("/write", (req, res) => {
    const id = idOf(req);
    if (!id) return void res.status(401).send("no session");
    if (!readFirst) return increment(id, res);
    store.read(id).then((count) => (count === null ? void res.status(401).send("no session") : increment(id, res)), failed(res));
  });
  return createServer(app);
}

export async function floorServer(kind: string, readFirst = false): Promise<Built<Server>> {
  if (kind === "memory") return { value: memoryFloorApp(), cleanup: async () => {} };
  // Its own table, key prefix or directory: both floors of a store run side by side.
  const built = await floorStore(kind, readFirst ? "floor_rw" : "floor");
  return { value: floorApp(built.value, readFirst), cleanup: built.cleanup };
}

/** In-process counters, read and written synchronously, behind one middleware. */
function memoryFloorApp(): Server {
  const counters = memoryCounters();
  const app = express();
  app.use((req, res, next) => (req.path === "/login" || idOf(req) ? next() : void res.status(401).send("no session")));
  app.get("/login", (_req, res) => void res.set("set-cookie", counters.login()).send("0"));
  app.get("/read", (req, res) => {
    const count = counters.read(idOf(req)!);
    if (count === undefined) return void res.status(401).send("no session");
    res.send(String(count));
  });
  app.get("/write", (req, res) => {
    const count = counters.write(idOf(req)!);
    if (count === undefined) return void res.status(401).send("no session");
    res.send(String(count));
  });
  return createServer(app);
}

function floorStore(kind: string, name: string): Promise<Built<FloorStore>> {
  if (kind === "redis") return redisFloor(`bench:${name}:`);
  if (kind === "postgres") return postgresFloor(`bench_${name}_sessions`);
  if (kind === "mysql") return mysqlFloor(`bench_${name}_sessions`);
  if (kind === "sqlite") return sqliteFloor();
  if (kind === "dynamodb") return dynamoFloor(name);
  if (kind === "file") return fileFloor();
  throw new Error(`no floor for store "${kind}"`);
}

async function redisFloor(prefix: string): Promise<Built<FloorStore>> {
  const client = createClient({ url: REDIS_URL });
  client.on("error", (error: unknown) => console.error(`redis client: ${String(error)}`));
  await client.connect();
  const keys: string[] = [];
  const store: FloorStore = {
    create: async (id) => {
      keys.push(prefix + id);
      await client.set(prefix + id, "0");
    },
    read: async (id) => {
      const value = await client.get(prefix + id);
      return value === null ? null : Number(value);
    },
    increment: (id) => client.incr(prefix + id),
  };
  const cleanup = async () => {
    for (let i = 0; i < keys.length; i += 1000) await client.del(keys.slice(i, i + 1000));
    await client.close();
  };
  return { value: store, cleanup };
}

async function postgresFloor(table: string): Promise<Built<FloorStore>> {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: POOL_SIZE });
  await pool.query(`DROP TABLE IF EXISTS ${table}`);
  await pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY, count integer NOT NULL)`);
  // Named statements are prepared once per connection, as sessionkit's PostgresStore does.
  const read = { name: "floor_read", text: `SELECT count FROM ${table} WHERE id = $1` };
  const upsert = {
    name: "floor_upsert",
    text: `INSERT INTO ${table} (id, count) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET count = ${table}.count + 1 RETURNING count`,
  };
  const store: FloorStore = {
    create: async (id) => void (await pool.query({ ...upsert, values: [id, 0] })),
    read: async (id) => {
      const result = await pool.query<{ count: number }>({ ...read, values: [id] });
      return result.rows[0]?.count ?? null;
    },
    increment: async (id) => (await pool.query<{ count: number }>({ ...upsert, values: [id, 1] })).rows[0]!.count,
  };
  const cleanup = async () => {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
  };
  return { value: store, cleanup };
}

async function mysqlFloor(table: string): Promise<Built<FloorStore>> {
  const pool = createPool({ uri: MYSQL_URL, connectionLimit: POOL_SIZE });
  await pool.query(`DROP TABLE IF EXISTS ${table}`);
  await pool.query(`CREATE TABLE ${table} (id VARCHAR(64) PRIMARY KEY, count INT NOT NULL)`);
  // One prepared statement per call (pool.execute), as sessionkit's MySQLStore does. MySQL's upsert
  // returns no row, so /write answers 0 and the counters are checked through /read afterwards.
  const upsert = `INSERT INTO ${table} (id, count) VALUES (?, ?) ON DUPLICATE KEY UPDATE count = count + 1`;
  const store: FloorStore = {
    create: async (id) => void (await pool.execute(upsert, [id, 0])),
    read: async (id) => {
      const [rows] = await pool.execute<RowDataPacket[]>(`SELECT count FROM ${table} WHERE id = ?`, [id]);
      return rows.length === 0 ? null : Number(rows[0]!.count);
    },
    increment: async (id) => (await pool.execute(upsert, [id, 1]), 0),
  };
  const cleanup = async () => {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
  };
  return { value: store, cleanup };
}

/** The connection SqliteStore opens a path with (node:sqlite or better-sqlite3), and prepared statements on it. */
async function sqliteFloor(): Promise<Built<FloorStore>> {
  const dir = await mkdtemp(join(tmpdir(), "sessionkit-bench-floor-"));
  const db = await openSqlite(join(dir, "floor.db"));
  db.exec("CREATE TABLE floor (id TEXT PRIMARY KEY NOT NULL, count INTEGER NOT NULL)");
  const select = db.prepare("SELECT count FROM floor WHERE id = ?");
  const upsert = db.prepare("INSERT INTO floor (id, count) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET count = count + 1 RETURNING count");
  const store: FloorStore = {
    create: async (id) => void upsert.get(id, 0),
    read: async (id) => (select.get(id) as { count: number } | undefined)?.count ?? null,
    increment: async (id) => (upsert.get(id, 1) as { count: number }).count,
  };
  return { value: store, cleanup: async () => (db.close(), await rm(dir, { recursive: true, force: true })) };
}

/** The AWS SDK client DynamoStore is given: one consistent GetItem to read, one PutItem of the new count to write. */
async function dynamoFloor(name: string): Promise<Built<FloorStore>> {
  const client = dynamoClient();
  const TableName = uniqueTable(`bench_${name}`);
  await client.send(
    new CreateTableCommand({ TableName, AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }], KeySchema: [{ AttributeName: "id", KeyType: "HASH" }], BillingMode: "PAY_PER_REQUEST" }),
  );
  // Counters kept in memory, as the file floor's, so a write is one PutItem and needs no read.
  const counters = new Map<string, number>();
  const put = async (id: string, count: number) => {
    counters.set(id, count);
    await client.send(new PutItemCommand({ TableName, Item: { id: { S: id }, count: { N: String(count) } } }));
    return count;
  };
  const store: FloorStore = {
    create: async (id) => void (await put(id, 0)),
    read: async (id) => {
      const { Item } = await client.send(new GetItemCommand({ TableName, Key: { id: { S: id } }, ConsistentRead: true }));
      return Item?.count?.N === undefined ? null : Number(Item.count.N);
    },
    increment: (id) => put(id, (counters.get(id) ?? 0) + 1),
  };
  return { value: store, cleanup: () => dropDynamo(client, TableName) };
}

async function fileFloor(): Promise<Built<FloorStore>> {
  const dir = await mkdtemp(join(tmpdir(), "sessionkit-bench-floor-"));
  const counters = new Map<string, number>();
  const write = async (id: string, count: number) => {
    const path = join(dir, id);
    await writeFile(`${path}.tmp`, String(count));
    await rename(`${path}.tmp`, path);
  };
  const store: FloorStore = {
    create: async (id) => (counters.set(id, 0), write(id, 0)),
    read: async (id) => {
      try {
        return Number(await readFile(join(dir, id), "utf8"));
      } catch {
        return null;
      }
    },
    increment: async (id) => {
      const count = (counters.get(id) ?? 0) + 1;
      counters.set(id, count);
      await write(id, count);
      return count;
    },
  };
  return { value: store, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

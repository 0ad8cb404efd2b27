/**
 * Builds each contestant's store, on the shared servers, with a namespace of its own (key
 * prefix, table, directory) that is emptied before the run and removed after it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createPool } from "mysql2/promise";
import { createClient } from "redis";
import type { AnyStore } from "sessionkit";
import { MemoryStore } from "sessionkit";
import { DeleteTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { dynamodbUrl, importAs, importSessionkit, MYSQL_URL, POSTGRES_URL, REDIS_URL } from "../lib.js";
import type { StoreKind } from "./contestants.js";
import { BENCH_SECRET } from "./contestants.js";

export interface Built<T> {
  value: T;
  cleanup: () => Promise<void>;
}

type Options = Record<string, unknown>;
type Closable = { close?(): unknown; stopInterval?(): void };
type StoreClass = new (options: Options) => Closable;
type RedisClient = ReturnType<typeof newRedisClient>;
const newRedisClient = () => createClient({ url: REDIS_URL });

const SK_PREFIX = "bench:sk:";
const ES_PREFIX = "bench:es:";
const SK_TABLE = "bench_sk_sessions";
const ES_TABLE = "bench_es_sessions";
const POOL_SIZE = 10;

// ---- sessionkit ----

export async function sessionkitStore(kind: StoreKind): Promise<Built<AnyStore>> {
  switch (kind) {
    case "memory":
      return { value: new MemoryStore(), cleanup: async () => {} };
    case "redis":
      return sessionkitRedis();
    case "postgres":
      return sessionkitPostgres();
    case "mysql":
      return sessionkitMysql();
    case "sqlite":
      return sessionkitSqlite();
    case "dynamodb":
      return sessionkitDynamo();
    case "file":
      return sessionkitFile();
    case "cookie":
      return sessionkitCookie();
    default:
      throw new Error(`no sessionkit store for "${kind}"`);
  }
}

async function sessionkitRedis(): Promise<Built<AnyStore>> {
  const { RedisStore } = await importSessionkit<{ RedisStore: new (options: Options) => AnyStore }>("dist/stores/redis.js");
  const client = await redisClient(SK_PREFIX);
  const store = new RedisStore({ client, prefix: SK_PREFIX });
  return { value: store, cleanup: () => closeRedis(client, SK_PREFIX) };
}

async function sessionkitPostgres(): Promise<Built<AnyStore>> {
  const { PostgresStore } = await importSessionkit<{ PostgresStore: new (options: Options) => AnyStore }>("dist/stores/postgres.js");
  const pool = await postgresPool(SK_TABLE);
  const store = new PostgresStore({ pool, tableName: SK_TABLE, createTable: true });
  return { value: store, cleanup: () => dropPostgres(pool, SK_TABLE) };
}

async function sessionkitMysql(): Promise<Built<AnyStore>> {
  const { MySQLStore } = await importSessionkit<{ MySQLStore: new (options: Options) => AnyStore }>("dist/stores/mysql.js");
  const pool = createPool({ uri: MYSQL_URL, connectionLimit: POOL_SIZE });
  await pool.query(`DROP TABLE IF EXISTS ${SK_TABLE}`);
  const store = new MySQLStore({ pool, tableName: SK_TABLE });
  const cleanup = async () => {
    await pool.query(`DROP TABLE IF EXISTS ${SK_TABLE}`);
    await pool.end();
  };
  return { value: store, cleanup };
}

async function sessionkitSqlite(): Promise<Built<AnyStore>> {
  const { SqliteStore } = await importSessionkit<{ SqliteStore: new (options: Options) => AnyStore & { close(): void } }>("dist/stores/sqlite.js");
  const dir = await mkdtemp(join(tmpdir(), "sessionkit-bench-sk-"));
  const store = new SqliteStore({ path: join(dir, "sessions.db") });
  return { value: store, cleanup: async () => (store.close(), await rm(dir, { recursive: true, force: true })) };
}

async function sessionkitDynamo(): Promise<Built<AnyStore>> {
  const { DynamoStore } = await importSessionkit<{ DynamoStore: new (options: Options) => AnyStore }>("dist/stores/dynamodb.js");
  const client = dynamoClient();
  const table = uniqueTable(SK_TABLE);
  return { value: new DynamoStore({ client, tableName: table, createTable: true }), cleanup: () => dropDynamo(client, table) };
}

async function sessionkitFile(): Promise<Built<AnyStore>> {
  const { FileStore } = await importSessionkit<{ FileStore: new (options: Options) => AnyStore }>("dist/stores/file.js");
  const dir = await mkdtemp(join(tmpdir(), "sessionkit-bench-sk-"));
  return { value: new FileStore({ dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

async function sessionkitCookie(): Promise<Built<AnyStore>> {
  const { CookieStore } = await importSessionkit<{ CookieStore: new (options: Options) => AnyStore }>("dist/stores/cookie.js");
  return { value: new CookieStore({ secrets: [BENCH_SECRET] }), cleanup: async () => {} };
}

// ---- express-session and its stores ----

export type Middleware = (req: object, res: object, next: (error?: unknown) => void) => void;
export interface ExpressSession {
  (options: Options): Middleware;
  MemoryStore: StoreClass;
}

export async function expressSession(): Promise<ExpressSession> {
  return (await importAs<{ default: ExpressSession }>("express-session")).default;
}

/** express-session as its README recommends for production (secure cookies aside: plain HTTP here). */
export async function expressSessionMiddleware(kind: string): Promise<Built<Middleware>> {
  const session = await expressSession();
  const { value: store, cleanup } = await expressSessionStore(session, kind);
  const middleware = session({
    secret: BENCH_SECRET,
    resave: false,
    saveUninitialized: false,
    store,
    cookie: { httpOnly: true, sameSite: "lax", secure: false, maxAge: 30 * 60 * 1000 },
  });
  return { value: middleware, cleanup };
}

async function expressSessionStore(session: ExpressSession, kind: string): Promise<Built<Closable>> {
  const factory = async (name: string) => (await importAs<{ default: (s: ExpressSession) => StoreClass }>(name)).default(session);
  switch (kind) {
    case "memory":
      return { value: new session.MemoryStore({}), cleanup: async () => {} };
    case "memorystore": {
      const store = new (await factory("memorystore"))({ checkPeriod: 86_400_000 });
      return { value: store, cleanup: async () => store.stopInterval?.() };
    }
    case "redis": {
      const { RedisStore } = await importAs<{ RedisStore: StoreClass }>("connect-redis");
      const client = await redisClient(ES_PREFIX);
      return { value: new RedisStore({ client, prefix: ES_PREFIX }), cleanup: () => closeRedis(client, ES_PREFIX) };
    }
    case "postgres": {
      const pool = await postgresPool(ES_TABLE);
      const store = new (await factory("connect-pg-simple"))({ pool, tableName: ES_TABLE, createTableIfMissing: true });
      return { value: store, cleanup: async () => (await store.close?.(), dropPostgres(pool, ES_TABLE)) };
    }
    case "mysql":
      return expressMysqlStore(await factory("express-mysql-session"));
    case "file": {
      const dir = await mkdtemp(join(tmpdir(), "sessionkit-bench-es-"));
      const store = new (await factory("session-file-store"))({ path: dir });
      return { value: store, cleanup: () => rm(dir, { recursive: true, force: true }) };
    }
    case "sqlite": {
      const dir = await mkdtemp(join(tmpdir(), "sessionkit-bench-es-"));
      const database = await openSqlite(join(dir, "sessions.db"));
      const store = new (await factory("better-sqlite3-session-store"))({ client: database });
      return { value: store, cleanup: async () => (database.close(), await rm(dir, { recursive: true, force: true })) };
    }
    case "connect-sqlite3": {
      const dir = await mkdtemp(join(tmpdir(), "sessionkit-bench-es-"));
      const store = new (await factory("connect-sqlite3"))({ db: "sessions.db", dir, concurrentDB: true });
      const closed = () => new Promise<void>((resolve) => (store as { db?: { close(done: () => void): void } }).db?.close(() => resolve()) ?? resolve());
      return { value: store, cleanup: async () => (await closed(), await rm(dir, { recursive: true, force: true })) };
    }
    case "dynamodb": {
      const client = dynamoClient();
      const table = uniqueTable(ES_TABLE);
      const store = new (await factory("connect-dynamodb"))({ client, table }) as Closable & { initialize(): Promise<void> };
      // Its table is made before the first request: made lazily, the first concurrent requests each try
      // CreateTable, the losers' ResourceInUseException is an unhandled rejection, and the process exits.
      await store.initialize();
      return { value: store, cleanup: () => dropDynamo(client, table) };
    }
    default:
      throw new Error(`no express-session store for "${kind}"`);
  }
}

async function expressMysqlStore(MySQLStore: StoreClass): Promise<Built<Closable>> {
  const url = new URL(MYSQL_URL);
  const admin = createPool({ uri: MYSQL_URL, connectionLimit: 1 });
  await admin.query(`DROP TABLE IF EXISTS ${ES_TABLE}`);
  const store = new MySQLStore({
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: url.pathname.slice(1),
    connectionLimit: POOL_SIZE,
    createDatabaseTable: true,
    schema: { tableName: ES_TABLE },
  });
  const cleanup = async () => {
    await store.close?.();
    await admin.query(`DROP TABLE IF EXISTS ${ES_TABLE}`);
    await admin.end();
  };
  return { value: store, cleanup };
}

// ---- shared servers ----

async function redisClient(prefix: string): Promise<RedisClient> {
  const client = newRedisClient();
  client.on("error", (error: unknown) => console.error(`redis client: ${String(error)}`));
  await client.connect();
  await deleteByPrefix(client, prefix);
  return client;
}

async function deleteByPrefix(client: RedisClient, prefix: string): Promise<void> {
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
    if (keys.length > 0) await client.del(keys);
  }
}

async function closeRedis(client: RedisClient, prefix: string): Promise<void> {
  await deleteByPrefix(client, prefix);
  await client.close();
}

async function postgresPool(table: string): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: POOL_SIZE });
  await pool.query(`DROP TABLE IF EXISTS ${table}`);
  return pool;
}

async function dropPostgres(pool: pg.Pool, table: string): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS ${table}`);
  await pool.end();
}

/** The synchronous SQLite connection every SQLite contestant uses. */
export interface SqliteDatabase {
  exec(sql: string): unknown;
  prepare(sql: string): { get(...params: unknown[]): unknown; run(...params: unknown[]): unknown; all(...params: unknown[]): unknown[] };
  close(): unknown;
}

/** A path opened as SqliteStore opens one: node:sqlite where Node has it, else better-sqlite3, with its pragmas. */
export async function openSqlite(path: string): Promise<SqliteDatabase> {
  const nodeSqlite = process.getBuiltinModule?.("node:sqlite") as { DatabaseSync: new (path: string) => SqliteDatabase } | undefined;
  const Database = nodeSqlite?.DatabaseSync ?? (await import("better-sqlite3")).default;
  const database: SqliteDatabase = new Database(path);
  for (const pragma of ["busy_timeout = 5000", "journal_mode = WAL", "synchronous = NORMAL"]) database.exec(`PRAGMA ${pragma}`);
  return database;
}

/** A client of the DynamoDB the harness points DYNAMODB_URL at (dynalite, see bench/dynalite.ts); its credentials are dynalite's any. */
export function dynamoClient(): DynamoDBClient {
  return new DynamoDBClient({ endpoint: dynamodbUrl(), region: "us-east-1", credentials: { accessKeyId: "bench", secretAccessKey: "bench" } });
}

/** A table of this run's own: two contestants of one store run side by side on one dynalite. */
export const uniqueTable = (base: string) => `${base}_${Math.random().toString(36).slice(2, 10)}`;

export async function dropDynamo(client: DynamoDBClient, table: string): Promise<void> {
  await client.send(new DeleteTableCommand({ TableName: table })).catch(() => {});
  client.destroy();
}

/**
 * Who runs in the HTTP benchmark, and with which settings. Each peer is configured as its
 * README recommends for production (minus `secure: true`, since the benchmark speaks plain
 * HTTP on 127.0.0.1). The builders live in servers/*.ts; this file is data only, so the
 * harness can list and filter contestants without loading any of them.
 */
import type { Service } from "../lib.js";

export type Framework = "node:http" | "express 5" | "fastify 5" | "koa 3" | "hono 4";
export type StoreKind = "none" | "memory" | "redis" | "postgres" | "mysql" | "sqlite" | "dynamodb" | "file" | "cookie";

export interface Contestant {
  id: string;
  /** Library and store as shown in the table. */
  label: string;
  store: StoreKind;
  framework: Framework;
  /** bare: the framework alone; floor: the framework plus one raw store round trip, no session library. */
  kind: "bare" | "floor" | "sessionkit" | "peer";
  /** Every setting that differs from nothing, stated in the results. */
  settings: string;
  /** sessionkit source files that must exist (stores and adapters still being written). */
  needsFiles: string[];
  needsServices: Service[];
  /** The session lives in the cookie: the benchmark's fixed cookies never carry the new counter back. */
  clientSide: boolean;
  /**
   * Floors only: /write reads the counter, then writes it (two round trips), as a session store's
   * write must (load, then save). Its /write is the fair floor of a session write.
   */
  readFirst?: true;
  /** sessionkit only: a no-op subscriber on every event of every sessionkit diagnostics channel (docs/observability.md). */
  traced?: true;
}

// Shared by every contestant that signs or seals: at least 32 characters (fastify/session's rule).
export const BENCH_SECRET = "bench-secret-7Gq2Lx9Vd4Tn0Rb6Ws1Hk8Pm3Zc5YfJ2eQ8u";
export const IDLE_SECONDS = 30 * 60;

const SK_DEFAULTS =
  "sessionkit defaults: cookie sid, httpOnly, sameSite=lax, secure=auto (false on http), persistent (Max-Age), " +
  "idleTimeout 30m, absoluteTimeout 24h, touchInterval 1m, hashIds true (store sees SHA-256 of token), no secrets (unsigned 256-bit token), JSON codec";
const ES_DEFAULTS =
  `express-session: secret (${BENCH_SECRET.length} chars), resave false, saveUninitialized false, rolling false, ` +
  "cookie {httpOnly, sameSite=lax, secure false, maxAge 30m}, name connect.sid (signed with HMAC-SHA256)";

// What the SQLite contestants open a path with (SqliteStore's own rule), so the peer shares the floor's driver.
const SQLITE_CONNECTION = "a fresh temp file opened as SqliteStore opens a path (node:sqlite DatabaseSync on Node 22.13+, else better-sqlite3; WAL, synchronous NORMAL)";
const DYNAMO_CLIENT = "@aws-sdk/client-dynamodb DynamoDBClient (defaults: keep-alive, 3 attempts) on the bench's dynalite";

const sk = (store: string, extra = "") => `${SK_DEFAULTS}; store: ${store}${extra ? `; ${extra}` : ""}`;
const es = (store: string) => `${ES_DEFAULTS}; store: ${store}`;

export const CONTESTANTS: Contestant[] = [
  bare("bare-node", "node:http"),
  {
    id: "sk-memory-node", label: "sessionkit", store: "memory", framework: "node:http", kind: "sessionkit",
    settings: sk("MemoryStore (unbounded)", "manager.start(req) / manager.release(session, res)"),
    needsFiles: [], needsServices: [], clientSide: false,
  },
  {
    id: "sk-memory-node-traced", label: "sessionkit, channels subscribed", store: "memory", framework: "node:http", kind: "sessionkit",
    settings: sk("MemoryStore (unbounded)", "manager.start(req) / manager.release(session, res); a no-op subscriber on every event of every sessionkit diagnostics channel"),
    needsFiles: [], needsServices: [], clientSide: false, traced: true,
  },
  bare("bare-express", "express 5"),
  floor("memory", "one app.use middleware (checks the cookie is there), then one Map get on /read, one Map set on /write"),
  {
    id: "sk-memory-express", label: "sessionkit", store: "memory", framework: "express 5", kind: "sessionkit",
    settings: sk("MemoryStore (unbounded)", "sessionMiddleware(manager) from dist/adapters/express.js"),
    needsFiles: [], needsServices: [], clientSide: false,
  },
  {
    id: "es-memory-express", label: "express-session", store: "memory", framework: "express 5", kind: "peer",
    settings: es("built-in MemoryStore"), needsFiles: [], needsServices: [], clientSide: false,
  },
  {
    id: "es-memorystore-express", label: "express-session + memorystore", store: "memory", framework: "express 5", kind: "peer",
    settings: es("memorystore {checkPeriod 86400000 (24h, README's example)}"), needsFiles: [], needsServices: [], clientSide: false,
  },
  {
    id: "sk-redis-express", label: "sessionkit", store: "redis", framework: "express 5", kind: "sessionkit",
    settings: sk("RedisStore {client: node-redis createClient, prefix bench:sk:}"),
    needsFiles: ["dist/stores/redis.js"], needsServices: ["redis"], clientSide: false,
  },
  {
    id: "es-redis-express", label: "express-session + connect-redis", store: "redis", framework: "express 5", kind: "peer",
    settings: es("connect-redis RedisStore {client: node-redis createClient, prefix bench:es:}"),
    needsFiles: [], needsServices: ["redis"], clientSide: false,
  },
  {
    id: "sk-postgres-express", label: "sessionkit", store: "postgres", framework: "express 5", kind: "sessionkit",
    settings: sk("PostgresStore {pool: pg.Pool (max 10), tableName bench_sk_sessions, createTable true}"),
    needsFiles: ["dist/stores/postgres.js"], needsServices: ["postgres"], clientSide: false,
  },
  {
    id: "es-postgres-express", label: "express-session + connect-pg-simple", store: "postgres", framework: "express 5", kind: "peer",
    settings: es("connect-pg-simple {pool: pg.Pool (max 10), tableName bench_es_sessions, createTableIfMissing true}"),
    needsFiles: [], needsServices: ["postgres"], clientSide: false,
  },
  {
    id: "sk-mysql-express", label: "sessionkit", store: "mysql", framework: "express 5", kind: "sessionkit",
    settings: sk("MySQLStore {pool: mysql2/promise createPool (connectionLimit 10), tableName bench_sk_sessions}"),
    needsFiles: ["dist/stores/mysql.js"], needsServices: ["mysql"], clientSide: false,
  },
  {
    id: "es-mysql-express", label: "express-session + express-mysql-session", store: "mysql", framework: "express 5", kind: "peer",
    settings: es("express-mysql-session {host, port, user root, database test, connectionLimit 10, createDatabaseTable true, table bench_es_sessions, clearExpired true}"),
    needsFiles: [], needsServices: ["mysql"], clientSide: false,
  },
  {
    id: "sk-sqlite-express", label: "sessionkit", store: "sqlite", framework: "express 5", kind: "sessionkit",
    settings: sk("SqliteStore {path: fresh temp file} (node:sqlite on Node 22.13+, else better-sqlite3; WAL, synchronous NORMAL, busy_timeout 5000)"),
    needsFiles: ["dist/stores/sqlite.js"], needsServices: [], clientSide: false,
  },
  {
    id: "es-sqlite-express", label: "express-session + better-sqlite3-session-store", store: "sqlite", framework: "express 5", kind: "peer",
    settings: es(`better-sqlite3-session-store {client: ${SQLITE_CONNECTION}, expired {clear true, intervalMs 900000 (defaults)}}`),
    needsFiles: [], needsServices: [], clientSide: false,
  },
  {
    id: "es-sqlite3-express", label: "express-session + connect-sqlite3", store: "sqlite", framework: "express 5", kind: "peer",
    settings: es("connect-sqlite3 {db sessions.db, dir: fresh temp dir, concurrentDB true (WAL)} over the sqlite3 package (asynchronous, libuv thread pool)"),
    needsFiles: [], needsServices: [], clientSide: false,
  },
  {
    id: "sk-dynamodb-express", label: "sessionkit", store: "dynamodb", framework: "express 5", kind: "sessionkit",
    settings: sk(`DynamoStore {client: ${DYNAMO_CLIENT}, tableName bench_sk_sessions_<random>, createTable true}`),
    needsFiles: ["dist/stores/dynamodb.js"], needsServices: ["dynamodb"], clientSide: false,
  },
  {
    id: "es-dynamodb-express", label: "express-session + connect-dynamodb", store: "dynamodb", framework: "express 5", kind: "peer",
    settings: es(`connect-dynamodb {client: ${DYNAMO_CLIENT}, table bench_es_sessions_<random> (created by the store, provisioned 5/5), prefix sess:, reapInterval 0 (default)}`),
    needsFiles: [], needsServices: ["dynamodb"], clientSide: false,
  },
  {
    id: "sk-file-express", label: "sessionkit", store: "file", framework: "express 5", kind: "sessionkit",
    settings: sk("FileStore {dir: fresh temp dir, fsync false (default)}"),
    needsFiles: ["dist/stores/file.js"], needsServices: [], clientSide: false,
  },
  {
    id: "es-file-express", label: "express-session + session-file-store", store: "file", framework: "express 5", kind: "peer",
    settings: es("session-file-store {path: fresh temp dir, defaults: ttl 3600, retries 5, reapInterval 3600, JSON files}"),
    needsFiles: [], needsServices: [], clientSide: false,
  },
  {
    id: "sk-cookie-node", label: "sessionkit", store: "cookie", framework: "node:http", kind: "sessionkit",
    settings: sk("CookieStore {secrets: [one 32+ char secret]}", "manager.start(req) / manager.release(session, res)"),
    needsFiles: ["dist/stores/cookie.js"], needsServices: [], clientSide: true,
  },
  {
    id: "iron-node", label: "iron-session", store: "cookie", framework: "node:http", kind: "peer",
    settings: `iron-session getIronSession(req, res, {password (${BENCH_SECRET.length} chars), cookieName iron, ttl 1800, cookieOptions {httpOnly, sameSite=lax, secure false}}); save() only after a change`,
    needsFiles: [], needsServices: [], clientSide: true,
  },
  {
    id: "cookie-session-node", label: "cookie-session", store: "cookie", framework: "node:http", kind: "peer",
    settings: "cookie-session {name session, keys [secret], maxAge 30m, httpOnly, sameSite=lax, secure false, signed (keygrip HMAC-SHA1), not encrypted}; called as Connect middleware on node:http",
    needsFiles: [], needsServices: [], clientSide: true,
  },
  floor("redis", "node-redis createClient, GET on /read, INCR on /write, prefix bench:floor:"),
  floor("postgres", "pg.Pool (max 10), named statements: primary-key SELECT on /read, INSERT ... ON CONFLICT DO UPDATE on /write, table bench_floor_sessions"),
  floor("mysql", "mysql2/promise createPool (connectionLimit 10), pool.execute: primary-key SELECT on /read, INSERT ... ON DUPLICATE KEY UPDATE on /write, table bench_floor_sessions"),
  floor("sqlite", "fresh temp file opened as SqliteStore opens a path (node:sqlite on Node 22.13+, else better-sqlite3; WAL, synchronous NORMAL), prepared primary-key SELECT on /read, INSERT ... ON CONFLICT DO UPDATE on /write; each synchronous call wrapped in an async function like the other floors' calls"),
  floor("dynamodb", `${DYNAMO_CLIENT}, table bench_floor_<random> (on-demand): one GetItem (ConsistentRead, as DynamoStore reads) on /read, one PutItem of the new count on /write (counters kept in memory, as the file floor)`),
  floor("file", "fresh temp dir, one readFile on /read, one atomic write (writeFile temp + rename) on /write, counters kept in memory"),
  loadThenSaveFloor("redis", "as floor-redis-express, but /write is GET then INCR"),
  loadThenSaveFloor("postgres", "as floor-postgres-express, but /write is the SELECT then the upsert"),
  loadThenSaveFloor("mysql", "as floor-mysql-express, but /write is the SELECT then the upsert"),
  loadThenSaveFloor("sqlite", "as floor-sqlite-express, but /write is the SELECT then the upsert"),
  loadThenSaveFloor("dynamodb", "as floor-dynamodb-express, but /write is the GetItem then the PutItem"),
  loadThenSaveFloor("file", "as floor-file-express, but /write is the readFile then the atomic write"),
  bare("bare-fastify", "fastify 5"),
  frameworkMemoryFloor("fastify", "fastify 5"),
  {
    id: "sk-memory-fastify", label: "sessionkit", store: "memory", framework: "fastify 5", kind: "sessionkit",
    settings: sk("MemoryStore (unbounded)", "sessionPlugin from dist/adapters/fastify.js"),
    needsFiles: ["dist/adapters/fastify.js"], needsServices: [], clientSide: false,
  },
  {
    id: "fs-memory-fastify", label: "@fastify/session", store: "memory", framework: "fastify 5", kind: "peer",
    settings: `@fastify/cookie + @fastify/session {secret (${BENCH_SECRET.length} chars), saveUninitialized false, rolling false, cookie {httpOnly, sameSite=lax, secure false, maxAge 30m}, built-in MemoryStore}`,
    needsFiles: [], needsServices: [], clientSide: false,
  },
  bare("bare-koa", "koa 3"),
  frameworkMemoryFloor("koa", "koa 3"),
  {
    id: "sk-memory-koa", label: "sessionkit", store: "memory", framework: "koa 3", kind: "sessionkit",
    settings: sk("MemoryStore (unbounded)", "sessionMiddleware(manager) from dist/adapters/koa.js"),
    needsFiles: ["dist/adapters/koa.js"], needsServices: [], clientSide: false,
  },
  bare("bare-hono", "hono 4"),
  frameworkMemoryFloor("hono", "hono 4"),
  {
    id: "sk-memory-hono", label: "sessionkit", store: "memory", framework: "hono 4", kind: "sessionkit",
    settings: sk("MemoryStore (unbounded)", "sessionMiddleware(manager) from dist/adapters/hono.js, served by @hono/node-server"),
    needsFiles: ["dist/adapters/hono.js"], needsServices: [], clientSide: false,
  },
];

/** Express 5 with exactly one raw round trip to the store per request: the least any session on it can cost. */
function floor(store: "memory" | "redis" | "postgres" | "mysql" | "sqlite" | "dynamodb" | "file", settings: string): Contestant {
  return {
    id: `floor-${store}-express`, label: `floor: one ${store} round trip`, store, framework: "express 5", kind: "floor",
    settings: `Express 5, no session library, cookie floor=<32 hex id>; ${settings}`,
    needsFiles: [], needsServices: store === "file" || store === "memory" || store === "sqlite" ? [] : [store], clientSide: false,
  };
}

/** The memory floor on another framework: its one session hook or middleware and a Map get or set, no session library. */
function frameworkMemoryFloor(short: string, framework: Framework): Contestant {
  const layer = short === "fastify" ? "one onRequest hook" : "one middleware";
  return {
    id: `floor-memory-${short}`, label: "floor: one memory round trip", store: "memory", framework, kind: "floor",
    settings: `${framework}, no session library, cookie floor=<32 hex id>; ${layer} checking the cookie, one Map get on /read, a Map get and set on /write`,
    needsFiles: [], needsServices: [], clientSide: false,
  };
}

/** The floor of a session write: one read, then one write (load, then save), two round trips. */
function loadThenSaveFloor(store: "redis" | "postgres" | "mysql" | "sqlite" | "dynamodb" | "file", settings: string): Contestant {
  const { needsServices } = floor(store, settings);
  return {
    id: `floor-rw-${store}-express`, label: `floor: ${store} read, then write`, store, framework: "express 5", kind: "floor",
    settings: `Express 5, no session library; ${settings}`, needsFiles: [], needsServices, clientSide: false, readFirst: true,
  };
}

function bare(id: string, framework: Framework): Contestant {
  return {
    id, label: `bare ${framework}`, store: "none", framework, kind: "bare",
    settings: `${framework} without sessions: /read answers 200 when a cookie header is present, /write bumps an in-process counter`,
    needsFiles: [], needsServices: [], clientSide: false,
  };
}

export function contestantById(id: string): Contestant {
  const found = CONTESTANTS.find((c) => c.id === id);
  if (!found) throw new Error(`unknown contestant "${id}"; known: ${CONTESTANTS.map((c) => c.id).join(", ")}`);
  return found;
}

/**
 * Opens the server stores of the built-in providers from parsed configuration: used by the
 * provider registry (./index.ts) and by the `sessionkit` CLI. Each function imports its driver
 * only when called, so an app using "file" never loads pg, mysql2 or redis, and none of them needs
 * to be installed. A store made here owns what it created (client or pool) and closes it in close().
 */
import type { MySQLProviderConfig, PostgresProviderConfig, RedisSentinelProviderConfig } from "./config.js";
import { importPeer } from "../stores/driver.js";
import type { SessionStore } from "../core/store.js";

/** Imports an optional peer dependency, turning "not installed" into an instruction. */
export function importDriver<M>(specifier: string, provider: string, packageName = specifier): Promise<M> {
  return importPeer<M>(specifier, `provider "${provider}"`, packageName);
}

/**
 * The store, whose close() also ends `release` (a pool the provider created and the store merely
 * borrows). The store is one this module just made, so giving it its own close() touches no user
 * object, and every other method (optional ones included) stays the store's own.
 */
function closingAlso<S extends SessionStore>(store: S, release: () => Promise<unknown>): S {
  const closeStore = store.close?.bind(store);
  store.close = async () => {
    try {
      await closeStore?.();
    } finally {
      await release();
    }
  };
  return store;
}

/**
 * What a caller other than the provider registry (the `sessionkit` CLI) adds to a config string.
 * `failFast` gives up on an unreachable server after one attempt instead of reconnecting forever,
 * as node-redis does by default: right for a command, wrong for a server that must ride out a restart.
 */
export interface ConnectOptions {
  /** Redis key prefix (RedisStore's `prefix`). */
  prefix?: string;
  /** SQL table (the SQL stores' `tableName`). */
  tableName?: string;
  /** Default true, as in the SQL stores. */
  createTable?: boolean;
  failFast?: boolean;
}

const FAIL_FAST_MS = 5000;

export async function connectRedis(url: string, options: ConnectOptions = {}): Promise<SessionStore> {
  const { createClient } = await importDriver<typeof import("redis")>("redis", "redis");
  const { RedisStore } = await import("../stores/redis.js");
  const socket = options.failFast ? { reconnectStrategy: false as const, connectTimeout: FAIL_FAST_MS } : {};
  const client = createClient({ url, socket });
  // Errors reach callers through failed commands; without a listener an "error" event would crash the process.
  client.on("error", () => {});
  await client.connect();
  return new RedisStore({ client, ownsClient: true, prefix: options.prefix });
}

/** Needs node-redis 5+ (createSentinel); it follows failovers by asking the sentinels for the master. */
export async function connectRedisSentinel({ store, ...config }: RedisSentinelProviderConfig, options: ConnectOptions = {}): Promise<SessionStore> {
  const redis = await importDriver<typeof import("redis")>("redis", "redis");
  const { RedisStore } = await import("../stores/redis.js");
  if (typeof redis.createSentinel !== "function") throw new TypeError('provider "redis": the sentinel:// form needs redis (node-redis) 5 or later');
  const socket = options.failFast ? { reconnectStrategy: false as const, connectTimeout: FAIL_FAST_MS } : undefined;
  // failFast: one more look at the sentinels after a second, not node-redis's default 16.
  const failFast = socket && { sentinelClientOptions: { socket }, nodeClientOptions: { ...config.nodeClientOptions, socket }, maxCommandRediscovers: 1 };
  const client = redis.createSentinel({ ...config, ...failFast });
  client.on("error", () => {}); // as in connectRedis: failures reach callers through failed commands
  await client.connect();
  return new RedisStore({ client, ownsClient: true, ...store, ...(options.prefix === undefined ? {} : { prefix: options.prefix }) });
}

export async function connectPostgres(config: PostgresProviderConfig, options: ConnectOptions = {}): Promise<SessionStore> {
  const pg = await importDriver<typeof import("pg")>("pg", "postgresql");
  const { PostgresStore } = await import("../stores/postgres.js");
  const pool = new pg.Pool(options.failFast ? { connectionTimeoutMillis: FAIL_FAST_MS, ...config } : config);
  pool.on("error", () => {}); // an idle client's lost connection; the next query reports it
  const store = new PostgresStore({ pool, tableName: options.tableName, createTable: options.createTable });
  return closingAlso(store, () => pool.end());
}

export async function connectMySQL(config: MySQLProviderConfig, options: ConnectOptions = {}): Promise<SessionStore> {
  const mysql = await importDriver<typeof import("mysql2/promise")>("mysql2/promise", "mysql", "mysql2");
  const { MySQLStore } = await import("../stores/mysql.js");
  // utf8mb4: MySQL's "utf8" cannot hold 4-byte characters such as emoji.
  const pool = mysql.createPool({ charset: "utf8mb4", ...(options.failFast ? { connectTimeout: FAIL_FAST_MS } : {}), ...config });
  // The manager's gcInterval schedules gc(); the store's own timer would only double it.
  const store = new MySQLStore({ pool, cleanupInterval: 0, tableName: options.tableName, createTable: options.createTable });
  return closingAlso(store, () => pool.end());
}

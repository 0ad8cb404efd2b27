/**
 * beego-style provider names: `new SessionManager({ provider: "redis", providerConfig: "127.0.0.1:6379" })`.
 * Each factory imports its store and driver only when that provider is used, so an app using
 * "file" never loads pg, mysql2 or redis, and none of them needs to be installed.
 * A store made here owns what it created (client or pool) and closes it in close(), which the
 * manager calls from `manager.close()`.
 */
import type { MySQLProviderConfig, PostgresProviderConfig, RedisSentinelProviderConfig } from "./core/provider-config.js";
import {
  isRedisSentinelConfig,
  parseCookieConfig,
  parseFileConfig,
  parseMySQLConfig,
  parsePostgresConfig,
  parseRedisConfig,
  parseRedisSentinelConfig,
} from "./core/provider-config.js";
import { registerProvider } from "./core/providers.js";
import type { SessionStore } from "./core/store.js";

/** Imports an optional peer dependency, turning "not installed" into an instruction. */
export async function importDriver<M>(specifier: string, provider: string, packageName = specifier): Promise<M> {
  try {
    return (await import(specifier)) as M;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | null)?.code;
    if (code === "ERR_MODULE_NOT_FOUND" && String((error as Error).message).includes(packageName)) {
      throw new TypeError(`install ${packageName} to use provider "${provider}" (npm install ${packageName})`, { cause: error });
    }
    throw error;
  }
}

/** The store, whose close() also ends `release` (a pool the provider created and the store merely borrows). */
function closingAlso(store: SessionStore, release: () => Promise<unknown>): SessionStore {
  return {
    get: (key, options) => store.get(key, options),
    set: (key, write, options) => store.set(key, write, options),
    destroy: (key, options) => store.destroy(key, options),
    touch: store.touch && ((key, expiresAt, options) => store.touch!(key, expiresAt, options)),
    count: store.count && ((options) => store.count!(options)),
    gc: store.gc && ((options) => store.gc!(options)),
    close: async () => {
      try {
        await store.close?.();
      } finally {
        await release();
      }
    },
  };
}

// Each factory parses its config before its first await, so a malformed string throws from the
// SessionManager constructor rather than at the first request.
registerProvider("file", (config) => {
  const options = parseFileConfig(config);
  return import("./stores/file.js").then(({ FileStore }) => new FileStore(options));
});

registerProvider("cookie", (config) => {
  const options = parseCookieConfig(config);
  return import("./stores/cookie.js").then(({ CookieStore }) => new CookieStore(options));
});

registerProvider("redis", (config) =>
  isRedisSentinelConfig(config) ? connectRedisSentinel(parseRedisSentinelConfig(config)) : connectRedis(parseRedisConfig(config).url),
);

async function connectRedis(url: string): Promise<SessionStore> {
  const { createClient } = await importDriver<typeof import("redis")>("redis", "redis");
  const { RedisStore } = await import("./stores/redis.js");
  const client = createClient({ url });
  // Errors reach callers through failed commands; without a listener an "error" event would crash the process.
  client.on("error", () => {});
  await client.connect();
  return new RedisStore({ client, ownsClient: true });
}

/** Needs node-redis 5+ (createSentinel); it follows failovers by asking the sentinels for the master. */
async function connectRedisSentinel({ store, ...options }: RedisSentinelProviderConfig): Promise<SessionStore> {
  const redis = await importDriver<typeof import("redis")>("redis", "redis");
  const { RedisStore } = await import("./stores/redis.js");
  if (typeof redis.createSentinel !== "function") throw new TypeError('provider "redis": the sentinel:// form needs redis (node-redis) 5 or later');
  const client = redis.createSentinel(options);
  client.on("error", () => {}); // as in connectRedis: failures reach callers through failed commands
  await client.connect();
  return new RedisStore({ client, ownsClient: true, ...store });
}

registerProvider("postgresql", (config) => connectPostgres(parsePostgresConfig(config)));

async function connectPostgres(options: PostgresProviderConfig): Promise<SessionStore> {
  const pg = await importDriver<typeof import("pg")>("pg", "postgresql");
  const { PostgresStore } = await import("./stores/postgres.js");
  const pool = new pg.Pool(options);
  pool.on("error", () => {}); // an idle client's lost connection; the next query reports it
  return closingAlso(new PostgresStore({ pool }), () => pool.end());
}

registerProvider("mysql", (config) => connectMySQL(parseMySQLConfig(config)));

async function connectMySQL(options: MySQLProviderConfig): Promise<SessionStore> {
  const mysql = await importDriver<typeof import("mysql2/promise")>("mysql2/promise", "mysql", "mysql2");
  const { MySQLStore } = await import("./stores/mysql.js");
  // utf8mb4: MySQL's "utf8" cannot hold 4-byte characters such as emoji.
  const pool = mysql.createPool({ charset: "utf8mb4", ...options });
  // The manager's gcInterval schedules gc(); the store's own timer would only double it.
  return closingAlso(new MySQLStore({ pool, cleanupInterval: 0 }), () => pool.end());
}

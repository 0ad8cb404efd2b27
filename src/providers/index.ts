/**
 * `sessionkit/providers`: beego-style provider names and configuration strings
 * (`createStore("redis", "127.0.0.1:6379")`), the registry to add your own, and the `sessionkit`
 * CLI's way to open a store. Outside the core so that importing `sessionkit` loads no driver
 * loader: Cloudflare Workers refuse the computed `import()` these factories need.
 *
 * Each factory parses its config before its first await, so a malformed string throws at once
 * (from `createStore`, or from the SessionManager constructor under the deprecated `provider:` option).
 */
import { installProviderResolver } from "../core/providers.js";
import type { AnyStore, Awaitable } from "../core/store.js";
import { MemoryStore } from "../stores/memory.js";
import { isRedisSentinelConfig, parseCookieConfig, parseFileConfig, parseMySQLConfig, parsePostgresConfig, parseRedisConfig, parseRedisSentinelConfig } from "./config.js";
import { connectMySQL, connectPostgres, connectRedis, connectRedisSentinel } from "./connect.js";

export type { CookieProviderConfig, FileProviderConfig, MySQLProviderConfig, PostgresProviderConfig, RedisProviderConfig, RedisSentinelProviderConfig } from "./config.js";
export { isRedisSentinelConfig, parseCookieConfig, parseFileConfig, parseMySQLConfig, parsePostgresConfig, parseRedisConfig, parseRedisSentinelConfig } from "./config.js";
export type { ConnectOptions } from "./connect.js";
export { connectMySQL, connectPostgres, connectRedis, connectRedisSentinel } from "./connect.js";

/** Makes a store from a beego-style configuration string. */
export type ProviderFactory = (providerConfig: string) => Awaitable<AnyStore>;

const providers = new Map<string, ProviderFactory>();

/** Registers a provider name for `createStore(name, config)` (beego's Register). */
export function registerProvider(name: string, factory: ProviderFactory): void {
  if (typeof name !== "string" || name === "") throw new TypeError("registerProvider: name must be a non-empty string");
  if (typeof factory !== "function") throw new TypeError(`registerProvider("${name}"): factory must be a function`);
  providers.set(name, factory);
}

function factoryOf(name: string): ProviderFactory {
  const factory = providers.get(name);
  if (!factory) {
    const known = [...providers.keys()].map((n) => JSON.stringify(n)).join(", ");
    throw new TypeError(`option "provider": unknown provider ${JSON.stringify(name)}; registered: ${known}`);
  }
  return factory;
}

/**
 * The store a provider makes from its configuration string. The store owns the client or pool it
 * opened: `store.close()` (or `manager.close()` under the deprecated `provider:` option) ends it.
 * An unknown name or a malformed string throws synchronously.
 */
export function createStore(provider: string, providerConfig = ""): Promise<AnyStore> {
  return Promise.resolve(factoryOf(provider)(providerConfig));
}

registerProvider("memory", () => new MemoryStore());

registerProvider("file", (config) => {
  const options = parseFileConfig(config);
  return import("../stores/file.js").then(({ FileStore }) => new FileStore(options));
});

registerProvider("cookie", (config) => {
  const options = parseCookieConfig(config);
  return import("../stores/cookie.js").then(({ CookieStore }) => new CookieStore(options));
});

registerProvider("redis", (config) =>
  isRedisSentinelConfig(config) ? connectRedisSentinel(parseRedisSentinelConfig(config)) : connectRedis(parseRedisConfig(config).url),
);

registerProvider("postgresql", (config) => connectPostgres(parsePostgresConfig(config)));

registerProvider("mysql", (config) => connectMySQL(parseMySQLConfig(config)));

installProviderResolver((name, providerConfig) => factoryOf(name)(providerConfig));

/**
 * `--store` for the CLI: the provider forms the library already accepts (docs/providers.md), told
 * apart by their shape, opened with `failFast` so an unreachable server is an error, not a hang,
 * and without creating tables (a wrong `--table` must be reported, not silently created).
 */
import { stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { redactCredentials } from "../core/redact.js";
import { isRedisSentinelConfig, parseMySQLConfig, parsePostgresConfig, parseRedisConfig, parseRedisSentinelConfig } from "../providers/config.js";
import type { SessionStore } from "../core/store.js";
import { connectMySQL, connectPostgres, connectRedis, connectRedisSentinel } from "../providers/connect.js";
import { FileStore } from "../stores/file.js";
import { UsageError } from "./errors.js";

export type StoreKind = "redis" | "postgresql" | "mysql" | "file";

export interface StoreSpec {
  kind: StoreKind;
  config: string;
}

const FORMS = "a redis://, sentinel://, postgres:// or mysql:// URL, a beego-style config string, or a directory for the file store";

/** Which provider a `--store` value is for, by its form. */
export function parseStoreSpec(value: string): StoreSpec {
  const text = value.trim();
  if (text === "") throw new UsageError(`--store is empty; give ${FORMS}`);
  if (/^(rediss?|sentinel):\/\//i.test(text)) return { kind: "redis", config: text };
  if (/^postgres(ql)?:\/\//i.test(text)) return { kind: "postgresql", config: text };
  if (/^mysql:\/\//i.test(text)) return { kind: "mysql", config: text };
  if (/^file:\/\//i.test(text)) return { kind: "file", config: fileURLToPath(text) };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (scheme) throw new UsageError(`--store: unsupported URL scheme "${scheme[1]}:"; give ${FORMS}`);
  // libpq "host=… dbname=…"; Go MySQL DSN "user:pw@tcp(host:port)/db"; beego Redis "host:port[,…]".
  if (/^\s*[A-Za-z_]+\s*=/.test(text)) return { kind: "postgresql", config: text };
  if (/(^|@)(tcp6?|unix)(\(|\/)/.test(text)) return { kind: "mysql", config: text };
  if (/^(\[[0-9A-Fa-f:.]+\]|[^:/\\\s,[\]]+):\d+(,|$)/.test(text)) return { kind: "redis", config: text };
  return { kind: "file", config: text };
}

export interface OpenOptions {
  table?: string;
  prefix?: string;
}

/** Opens the store the spec names; the caller closes it. */
export async function openStore(spec: StoreSpec, options: OpenOptions): Promise<SessionStore> {
  checkApplicable(spec.kind, options);
  switch (spec.kind) {
    case "redis":
      if (isRedisSentinelConfig(spec.config)) return connectRedisSentinel(parseRedisSentinelConfig(spec.config), { prefix: options.prefix, failFast: true });
      return connectRedis(parseRedisConfig(spec.config).url, { prefix: options.prefix, failFast: true });
    case "postgresql":
      return connectPostgres(parsePostgresConfig(spec.config), { tableName: options.table, createTable: false, failFast: true });
    case "mysql":
      return connectMySQL(parseMySQLConfig(spec.config), { tableName: options.table, createTable: false, failFast: true });
    case "file":
      return openFileStore(spec.config);
  }
}

function checkApplicable(kind: StoreKind, options: OpenOptions): void {
  const sql = kind === "postgresql" || kind === "mysql";
  if (options.table !== undefined && !sql) throw new UsageError(`--table applies to SQL stores (postgres, mysql), not to ${kind}`);
  if (options.prefix !== undefined && kind !== "redis") throw new UsageError(`--prefix applies to the redis store, not to ${kind}`);
}

// FileStore creates a missing directory; an operator's typo must not become an empty store.
async function openFileStore(dir: string): Promise<SessionStore> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new UsageError(`--store: ${JSON.stringify(redactCredentials(dir))} is not an existing directory; give ${FORMS}`);
  return new FileStore({ dir });
}

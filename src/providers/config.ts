import { toMilliseconds } from "../core/duration.js";
import { redactCredentials } from "../core/redact.js";

/**
 * Pure parsers for beego-style provider configuration strings (no I/O, no driver): each turns the
 * string a beego app already has into the options of the Node driver that sessionkit uses.
 * A string that fits none of the accepted forms is a TypeError naming the provider and the forms;
 * a message that quotes the string shows it with its password masked (redact.ts).
 */

/** For node-redis `createClient({ url })`. */
export interface RedisProviderConfig {
  url: string;
}

/** For node-redis `createSentinel(...)`, plus the RedisStore options the string may carry. */
export interface RedisSentinelProviderConfig {
  /** The master group name the sentinels monitor (`sentinel monitor <name> …`). */
  name: string;
  sentinelRootNodes: { host: string; port: number }[];
  /** Credentials and database of the master and replicas (not of the sentinels). */
  nodeClientOptions: { username?: string; password?: string; database?: number };
  store: { waitReplicas?: number; waitTimeout?: number };
}

/** For `new pg.Pool(config)`: either a URL or libpq keywords mapped to pg's names. */
export interface PostgresProviderConfig {
  connectionString?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  ssl?: boolean | { rejectUnauthorized: boolean };
  application_name?: string;
  connectionTimeoutMillis?: number;
}

/** For mysql2 `createPool(config)`: either a URL or the fields of a Go DSN. */
export interface MySQLProviderConfig {
  uri?: string;
  host?: string;
  port?: number;
  socketPath?: string;
  user?: string;
  password?: string;
  database?: string;
  charset?: string;
  connectTimeout?: number;
  ssl?: { rejectUnauthorized: boolean };
}

export interface CookieProviderConfig {
  secrets: string[];
}

export interface FileProviderConfig {
  dir: string;
}

const REDIS_FORMS = '"host:port", "host:port,poolsize,password,dbnum", "redis://[:password@]host:port[/db]" or "sentinel://[[user]:password@]host:port[,host:port...]/mastername[/db][?waitReplicas=1&waitTimeout=100ms]"';
const POSTGRES_FORMS = '"user=a password=b dbname=c host=h port=5432 sslmode=disable" or "postgres://user:password@host:port/dbname"';
const MYSQL_FORMS = '"user:password@tcp(host:port)/dbname?param=value", "user@unix(/path/mysql.sock)/dbname" or "mysql://user:password@host:port/dbname"';
const COOKIE_FORMS = '\'{"securityKey":"<32+ characters>"}\' or \'{"secrets":["<newest>","<older>"]}\'';

/** Config text for a message: JSON-quoted, credentials masked. */
function quote(text: string): string {
  return JSON.stringify(redactCredentials(text));
}

function malformed(provider: string, forms: string, reason: string): TypeError {
  return new TypeError(`provider "${provider}": ${reason}; expected ${forms}`);
}

function nonEmpty(config: string, provider: string, forms: string): string {
  if (typeof config !== "string" || config.trim() === "") throw malformed(provider, forms, "providerConfig is empty");
  return config.trim();
}

function parseUrl(text: string, protocols: string[], provider: string, forms: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw malformed(provider, forms, `${quote(text)} is not a valid URL`);
  }
  if (!protocols.includes(url.protocol)) throw malformed(provider, forms, `unsupported URL scheme ${JSON.stringify(url.protocol)}`);
  if (url.hostname === "") throw malformed(provider, forms, "the URL has no host");
  return url;
}

function parsePort(text: string, provider: string, forms: string): number {
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port < 1 || port > 65535) throw malformed(provider, forms, `port ${JSON.stringify(text)} is not 1-65535`);
  return port;
}

/** "host:port" with an optional [IPv6] host; the port is required, as beego's Dial needs it. */
function splitHostPort(address: string, provider: string, forms: string): { host: string; port: number } {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]/\s]+):(\d+)$/.exec(address);
  if (!match) throw malformed(provider, forms, `${quote(address)} is not host:port`);
  return { host: match[1]!, port: parsePort(match[2]!, provider, forms) };
}

// ---- redis ----

/**
 * beego: "host:port[,poolsize[,password[,dbnum[,idleTimeout]]]]", or a redis:// / rediss:// URL.
 * node-redis multiplexes one connection, so poolsize and idleTimeout have nothing to set and are ignored.
 */
export function parseRedisConfig(config: string): RedisProviderConfig {
  const text = nonEmpty(config, "redis", REDIS_FORMS);
  if (/^rediss?:\/\//i.test(text)) return { url: parseUrl(text, ["redis:", "rediss:"], "redis", REDIS_FORMS).href };
  const [address = "", poolSize = "", password = "", db = "", idle = "", ...extra] = text.split(",");
  if (extra.length > 0) throw malformed("redis", REDIS_FORMS, "too many comma-separated fields");
  const { host, port } = splitHostPort(address.trim(), "redis", REDIS_FORMS);
  if (poolSize.trim() !== "" && !/^\d+$/.test(poolSize.trim())) throw malformed("redis", REDIS_FORMS, `poolsize ${JSON.stringify(poolSize)} is not a number`);
  if (db.trim() !== "" && !/^\d+$/.test(db.trim())) throw malformed("redis", REDIS_FORMS, `dbnum ${JSON.stringify(db)} is not a number`);
  if (idle.trim() !== "" && !/^\d+$/.test(idle.trim())) throw malformed("redis", REDIS_FORMS, `idle timeout ${JSON.stringify(idle)} is not a number`);
  const auth = password === "" ? "" : `:${encodeURIComponent(password)}@`;
  const path = db.trim() === "" ? "" : `/${Number(db)}`;
  return { url: `redis://${auth}${host}:${port}${path}` };
}

/** True for the Sentinel form, which parseRedisSentinelConfig reads. */
export function isRedisSentinelConfig(config: string): boolean {
  return typeof config === "string" && /^\s*sentinel:\/\//i.test(config);
}

/**
 * "sentinel://[[user]:password@]host:port[,host:port...]/mastername[/db][?waitReplicas=N&waitTimeout=D]":
 * the sentinels to ask (any one that answers names the master), the master group name, and
 * optionally the RedisStore's durable-write options. WHATWG URL has no multi-host form, so it is split here.
 */
export function parseRedisSentinelConfig(config: string): RedisSentinelProviderConfig {
  const text = nonEmpty(config, "redis", REDIS_FORMS);
  const match = /^sentinel:\/\/(?:([^@/]*)@)?([^/?]+)\/([^/?]+)(?:\/(\d+))?(?:\?(.*))?$/i.exec(text);
  if (!match) throw malformed("redis", REDIS_FORMS, `${quote(text)} is not sentinel://host:port[,host:port...]/mastername`);
  const [, userInfo, hosts, name, db, query] = match;
  const sentinelRootNodes = hosts!.split(",").map((address) => {
    const { host, port } = splitHostPort(address.trim(), "redis", REDIS_FORMS);
    return { host: host.replace(/^\[|\]$/g, ""), port };
  });
  const nodeClientOptions: RedisSentinelProviderConfig["nodeClientOptions"] = {};
  if (userInfo !== undefined) {
    const colon = userInfo.indexOf(":");
    if (colon > 0) nodeClientOptions.username = decodeURIComponent(userInfo.slice(0, colon));
    nodeClientOptions.password = decodeURIComponent(colon < 0 ? userInfo : userInfo.slice(colon + 1));
  }
  if (db !== undefined) nodeClientOptions.database = Number(db);
  return { name: decodeURIComponent(name!), sentinelRootNodes, nodeClientOptions, store: sentinelStoreOptions(query ?? "") };
}

function sentinelStoreOptions(query: string): RedisSentinelProviderConfig["store"] {
  const store: RedisSentinelProviderConfig["store"] = {};
  for (const [key, value] of new URLSearchParams(query)) {
    if (key === "waitReplicas" && /^\d+$/.test(value)) store.waitReplicas = Number(value);
    else if (key === "waitTimeout") store.waitTimeout = toMilliseconds(value, "waitTimeout");
    else throw malformed("redis", REDIS_FORMS, `unsupported parameter ${quote(`${key}=${value}`)}`);
  }
  return store;
}

// ---- postgresql ----

const SSL_MODES: Record<string, PostgresProviderConfig["ssl"]> = {
  disable: false,
  // node-postgres cannot fall back from TLS to plain text, so "try TLS" modes mean plain, as pg's default.
  allow: false,
  prefer: false,
  require: { rejectUnauthorized: false }, // libpq: encrypt, do not verify the certificate
  "verify-ca": { rejectUnauthorized: true },
  "verify-full": true,
};

/** libpq "keyword=value ..." (values may be 'single quoted' with \' and \\), or a postgres:// URL. */
export function parsePostgresConfig(config: string): PostgresProviderConfig {
  const text = nonEmpty(config, "postgresql", POSTGRES_FORMS);
  if (/^postgres(ql)?:\/\//i.test(text)) {
    return { connectionString: parseUrl(text, ["postgres:", "postgresql:"], "postgresql", POSTGRES_FORMS).href };
  }
  const result: PostgresProviderConfig = {};
  for (const [keyword, value] of libpqPairs(text)) applyLibpqKeyword(result, keyword, value);
  return result;
}

/** Splits libpq's keyword/value form (PostgreSQL docs, section 34.1.1.1). */
function libpqPairs(text: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  const pattern = /\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|([^\s'\\]*))\s*/y;
  let index = 0;
  while (index < text.length) {
    pattern.lastIndex = index;
    const match = pattern.exec(text);
    if (!match) throw malformed("postgresql", POSTGRES_FORMS, `cannot read keyword=value at ${quote(text.slice(index, index + 20))}`);
    pairs.push([match[1]!, match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : match[3]!]);
    index = pattern.lastIndex;
  }
  if (pairs.length === 0) throw malformed("postgresql", POSTGRES_FORMS, "no keyword=value pairs");
  return pairs;
}

function applyLibpqKeyword(result: PostgresProviderConfig, keyword: string, value: string): void {
  switch (keyword) {
    case "host":
    case "hostaddr":
      result.host = value;
      return;
    case "port":
      result.port = parsePort(value, "postgresql", POSTGRES_FORMS);
      return;
    case "user":
      result.user = value;
      return;
    case "password":
      result.password = value;
      return;
    case "dbname":
      result.database = value;
      return;
    case "application_name":
      result.application_name = value;
      return;
    case "connect_timeout":
      if (!/^\d+$/.test(value)) throw malformed("postgresql", POSTGRES_FORMS, "connect_timeout must be whole seconds");
      result.connectionTimeoutMillis = Number(value) * 1000;
      return;
    case "sslmode":
      if (!(value in SSL_MODES)) throw malformed("postgresql", POSTGRES_FORMS, `unknown sslmode ${JSON.stringify(value)}`);
      result.ssl = SSL_MODES[value];
      return;
    default:
      throw malformed("postgresql", POSTGRES_FORMS, `unsupported keyword ${JSON.stringify(keyword)}`);
  }
}

// ---- mysql ----

/**
 * go-sql-driver/mysql DSN "[user[:password]@][protocol[(address)]]/dbname[?param=value&...]"
 * (the password may hold ":" and "@": the last "@" before the last "/" ends it), or a mysql:// URL.
 * Mapped params: charset (first of a list), timeout (Go duration), tls (true, skip-verify, false);
 * Go-only params (parseTime, loc, collation, ...) have no mysql2 meaning and are ignored.
 */
export function parseMySQLConfig(config: string): MySQLProviderConfig {
  const text = nonEmpty(config, "mysql", MYSQL_FORMS);
  if (/^mysql:\/\//i.test(text)) return { uri: parseUrl(text, ["mysql:"], "mysql", MYSQL_FORMS).href };
  // As the Go driver reads it: the last "/" splits address from "dbname?params".
  const slash = text.lastIndexOf("/");
  if (slash < 0) throw malformed("mysql", MYSQL_FORMS, 'no "/dbname"');
  const tail = text.slice(slash + 1);
  const query = tail.indexOf("?");
  const database = query < 0 ? tail : tail.slice(0, query);
  const result: MySQLProviderConfig = database === "" ? {} : { database };
  const before = text.slice(0, slash);
  const at = before.lastIndexOf("@");
  if (at >= 0) applyUserInfo(result, before.slice(0, at));
  applyAddress(result, before.slice(at + 1));
  if (query >= 0) for (const [name, value] of new URLSearchParams(tail.slice(query + 1))) applyMySQLParam(result, name, value);
  return result;
}

function applyUserInfo(result: MySQLProviderConfig, userInfo: string): void {
  const colon = userInfo.indexOf(":");
  result.user = colon < 0 ? userInfo : userInfo.slice(0, colon);
  if (colon >= 0) result.password = userInfo.slice(colon + 1);
}

function applyAddress(result: MySQLProviderConfig, netAddr: string): void {
  if (netAddr === "") return; // Go's default: tcp(127.0.0.1:3306), which is also mysql2's
  const match = /^(tcp|tcp6|unix)(?:\((.*)\))?$/.exec(netAddr);
  if (!match) throw malformed("mysql", MYSQL_FORMS, `${quote(netAddr)} is not protocol(address)`);
  const [, protocol, address = ""] = match;
  if (protocol === "unix") {
    result.socketPath = address || "/tmp/mysql.sock";
    return;
  }
  if (address === "") return;
  if (/:\d+$/.test(address)) {
    const { host, port } = splitHostPort(address, "mysql", MYSQL_FORMS);
    result.host = host.replace(/^\[|\]$/g, "");
    result.port = port;
  } else {
    result.host = address.replace(/^\[|\]$/g, "");
  }
}

function applyMySQLParam(result: MySQLProviderConfig, name: string, value: string): void {
  if (name === "charset") result.charset = value.split(",")[0]!;
  else if (name === "timeout") result.connectTimeout = goDurationMs(value);
  else if (name === "tls") applyMySQLTls(result, value);
}

function applyMySQLTls(result: MySQLProviderConfig, value: string): void {
  if (value === "true") result.ssl = { rejectUnauthorized: true };
  else if (value === "skip-verify" || value === "preferred") result.ssl = { rejectUnauthorized: false };
  else if (value !== "false") throw malformed("mysql", MYSQL_FORMS, `tls=${value} (a named TLS config) has no equivalent; use a mysql:// URL and a pool`);
}

const GO_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration such as "5s", "1m30s" or "500ms", in milliseconds. */
function goDurationMs(text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) throw malformed("mysql", MYSQL_FORMS, `timeout ${JSON.stringify(text)} is not a Go duration like "5s"`);
  return parts.reduce((total, [, amount, unit]) => total + Number(amount) * GO_UNITS[unit!]!, 0);
}

// ---- cookie ----

/** beego's '{"securityKey":"…"}' (other beego keys are accepted and unused) or '{"secrets":["…"]}'. */
export function parseCookieConfig(config: string): CookieProviderConfig {
  const text = nonEmpty(config, "cookie", COOKIE_FORMS);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed("cookie", COOKIE_FORMS, "providerConfig is not JSON");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw malformed("cookie", COOKIE_FORMS, "providerConfig is not a JSON object");
  const { secrets, securityKey } = parsed as { secrets?: unknown; securityKey?: unknown };
  if (Array.isArray(secrets) && secrets.length > 0 && secrets.every((s) => typeof s === "string")) return { secrets: secrets as string[] };
  if (typeof securityKey === "string" && securityKey !== "") return { secrets: [securityKey] };
  throw malformed("cookie", COOKIE_FORMS, 'neither "secrets" (an array of strings) nor "securityKey" (a string) is given');
}

// ---- file ----

/** beego's savePath: a directory. */
export function parseFileConfig(config: string): FileProviderConfig {
  const text = nonEmpty(config, "file", '"./sessions" (a directory path)');
  if (text.includes("\0")) throw malformed("file", '"./sessions" (a directory path)', "the path contains a NUL character");
  return { dir: text };
}

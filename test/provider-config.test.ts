import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  parseCookieConfig,
  parseFileConfig,
  parseMySQLConfig,
  parsePostgresConfig,
  parseRedisConfig,
  parseRedisSentinelConfig,
} from "../src/providers/config.js";

const hostname = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,2}$/);
const port = fc.integer({ min: 1, max: 65535 });
const text = fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !s.includes("\0"));

describe("parseRedisConfig", () => {
  it("reads beego's host:port and host:port,poolsize,password,dbnum[,idle] forms", () => {
    expect(parseRedisConfig("127.0.0.1:6379")).toEqual({ url: "redis://127.0.0.1:6379" });
    expect(parseRedisConfig("127.0.0.1:6379,100,astaxie")).toEqual({ url: "redis://:astaxie@127.0.0.1:6379" });
    expect(parseRedisConfig("127.0.0.1:6379,100,astaxie,2")).toEqual({ url: "redis://:astaxie@127.0.0.1:6379/2" });
    expect(parseRedisConfig("cache.local:6380,100,,3,30")).toEqual({ url: "redis://cache.local:6380/3" });
    expect(parseRedisConfig(" [::1]:6379 ")).toEqual({ url: "redis://[::1]:6379" });
  });

  it("passes redis:// and rediss:// URLs through", () => {
    expect(parseRedisConfig("redis://user:pw@127.0.0.1:6379/1").url).toBe("redis://user:pw@127.0.0.1:6379/1");
    expect(parseRedisConfig("rediss://cache.example:6380").url).toBe("rediss://cache.example:6380");
  });

  it("round-trips any host, port, password and db through the URL it builds", () => {
    fc.assert(
      fc.property(hostname, port, text.filter((s) => !s.includes(",")), fc.nat(15), (host, p, password, db) => {
        const url = new URL(parseRedisConfig(`${host}:${p},10,${password},${db}`).url);
        expect(url.hostname).toBe(host);
        expect(url.port === "" ? 6379 : Number(url.port)).toBe(p === 6379 ? 6379 : p);
        expect(decodeURIComponent(url.password)).toBe(password);
        expect(url.pathname).toBe(`/${db}`);
      }),
    );
  });

  it("refuses malformed strings with a TypeError naming the provider and the forms", () => {
    for (const bad of ["", "   ", "localhost", "host:port", "host:99999", "h:1,x", "h:1,1,p,db", "h:1,1,p,0,30,extra", "http://h:1", "redis://"]) {
      expect(() => parseRedisConfig(bad), bad).toThrow(TypeError);
      expect(() => parseRedisConfig(bad), bad).toThrow(/provider "redis".*expected "host:port"/);
    }
  });
});

describe("parsePostgresConfig", () => {
  it("reads libpq keyword=value strings as beego writes them", () => {
    expect(parsePostgresConfig("user=a password=b dbname=c sslmode=disable")).toEqual({ user: "a", password: "b", database: "c", ssl: false });
    expect(parsePostgresConfig("host=db.local port=5433 user=pqgotest dbname=pqgotest sslmode=verify-full connect_timeout=5")).toEqual({
      host: "db.local",
      port: 5433,
      user: "pqgotest",
      database: "pqgotest",
      ssl: true,
      connectionTimeoutMillis: 5000,
    });
    expect(parsePostgresConfig("password='it s' user = 'a b' sslmode=require").ssl).toEqual({ rejectUnauthorized: false });
    expect(parsePostgresConfig("password='it\\'s a \\\\ pass' user='a b'")).toEqual({ password: "it's a \\ pass", user: "a b" });
  });

  it("passes postgres:// and postgresql:// URLs through", () => {
    expect(parsePostgresConfig("postgres://postgres@127.0.0.1:5432/test")).toEqual({ connectionString: "postgres://postgres@127.0.0.1:5432/test" });
    expect(parsePostgresConfig("postgresql://u:p@h/db?sslmode=disable").connectionString).toBe("postgresql://u:p@h/db?sslmode=disable");
  });

  it("round-trips any quoted value", () => {
    const quote = (value: string) => `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
    fc.assert(
      fc.property(text, text, text, hostname, port, (user, password, dbname, host, p) => {
        const config = `user=${quote(user)} password=${quote(password)} dbname=${quote(dbname)} host=${host} port=${p}`;
        expect(parsePostgresConfig(config)).toEqual({ user, password, database: dbname, host, port: p });
      }),
    );
  });

  it("refuses malformed strings with a TypeError naming the provider and the forms", () => {
    for (const bad of ["", "user", "user=a junk", "usr=a", "port=abc", "sslmode=sometimes", "password='unterminated", "mysql://h/db"]) {
      expect(() => parsePostgresConfig(bad), bad).toThrow(TypeError);
      expect(() => parsePostgresConfig(bad), bad).toThrow(/provider "postgresql".*expected "user=a/);
    }
  });
});

describe("parseMySQLConfig", () => {
  it("reads go-sql-driver DSNs", () => {
    expect(parseMySQLConfig("root:secret@tcp(127.0.0.1:3306)/test?charset=utf8mb4&parseTime=true&loc=Local")).toEqual({
      user: "root",
      password: "secret",
      host: "127.0.0.1",
      port: 3306,
      database: "test",
      charset: "utf8mb4",
    });
    expect(parseMySQLConfig("user@unix(/var/run/mysqld/mysqld.sock)/app")).toEqual({ user: "user", socketPath: "/var/run/mysqld/mysqld.sock", database: "app" });
    expect(parseMySQLConfig("/app")).toEqual({ database: "app" });
    expect(parseMySQLConfig("u:p@tcp(db.local)/app?timeout=1m30s&tls=skip-verify")).toEqual({
      user: "u",
      password: "p",
      host: "db.local",
      database: "app",
      connectTimeout: 90_000,
      ssl: { rejectUnauthorized: false },
    });
    expect(parseMySQLConfig("u:p:a@ss@tcp([::1]:3307)/app")).toMatchObject({ password: "p:a@ss", host: "::1", port: 3307 });
  });

  it("passes mysql:// URLs through", () => {
    expect(parseMySQLConfig("mysql://root@127.0.0.1:3306/test")).toEqual({ uri: "mysql://root@127.0.0.1:3306/test" });
  });

  it("round-trips any user, password, host, port and database", () => {
    fc.assert(
      fc.property(text.filter((s) => !/[:@/]/.test(s) && s.trim() === s), text.filter((s) => !s.includes("/")), hostname, port, fc.stringMatching(/^[A-Za-z0-9_$]{1,20}$/), (user, password, host, p, database) => {
        expect(parseMySQLConfig(`${user}:${password}@tcp(${host}:${p})/${database}?parseTime=true`)).toEqual({ user, password, host, port: p, database });
      }),
    );
  });

  it("refuses malformed strings with a TypeError naming the provider and the forms", () => {
    for (const bad of ["", "root@tcp(h:1)", "root@udp(h:1)/db", "root@tcp(h:70000)/db", "u@tcp(h)/db?timeout=soon", "u@tcp(h)/db?tls=custom", "postgres://h/db"]) {
      expect(() => parseMySQLConfig(bad), bad).toThrow(TypeError);
      expect(() => parseMySQLConfig(bad), bad).toThrow(/provider "mysql".*expected "user:password@tcp/);
    }
  });
});

describe("parseCookieConfig and parseFileConfig", () => {
  it("reads beego's securityKey and sessionkit's secrets", () => {
    expect(parseCookieConfig('{"cookieName":"gosessionid","securityKey":"k"}')).toEqual({ secrets: ["k"] });
    expect(parseCookieConfig('{"secrets":["new","old"]}')).toEqual({ secrets: ["new", "old"] });
  });

  it("refuses what is not a JSON object with secrets", () => {
    for (const bad of ["", "not json", "[]", "null", '"k"', "{}", '{"secrets":[]}', '{"secrets":[1]}', '{"securityKey":""}']) {
      expect(() => parseCookieConfig(bad), bad).toThrow(/provider "cookie".*securityKey/);
    }
  });

  it("takes a directory path", () => {
    expect(parseFileConfig("./tmp")).toEqual({ dir: "./tmp" });
    expect(() => parseFileConfig("")).toThrow(/provider "file".*directory/);
    expect(() => parseFileConfig("a\0b")).toThrow(TypeError);
  });
});

describe("error messages never carry a password (issue 31)", () => {
  const PASSWORD = "Pw-s3cret-1234";
  const cases: Array<[string, (config: string) => unknown, string]> = [
    ["redis", parseRedisConfig, `redis://:${PASSWORD}@[::1:6379/0`],
    ["redis", parseRedisConfig, `rediss://user:${PASSWORD}@exa mple:6379`],
    ["redis", parseRedisSentinelConfig, `sentinel://:${PASSWORD}@host:26379`],
    ["redis", parseRedisSentinelConfig, `sentinel://${PASSWORD}@host`],
    ["postgresql", parsePostgresConfig, `postgres://u:${PASSWORD}@host:99999/x`],
    ["postgresql", parsePostgresConfig, `postgres://host:99999/db?password=${PASSWORD}`],
    ["postgresql", parsePostgresConfig, `'bad password=${PASSWORD} host=h`],
    ["postgresql", parsePostgresConfig, `x password='${PASSWORD} x' port=1`],
    ["mysql", parseMySQLConfig, `mysql://u:${PASSWORD}@host:0x/db`],
    ["mysql", parseMySQLConfig, `mysql://u@ho st/db?password=${PASSWORD}`],
  ];
  it.each(cases)("%s: %#", (provider, parse, config) => {
    let error: unknown;
    try {
      parse(config);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TypeError);
    const { message } = error as TypeError;
    expect(message).toMatch(new RegExp(`^provider "${provider}": `));
    expect(message).not.toContain(PASSWORD);
    expect(message).toContain("***");
  });

  it("the manager's TypeError for a providerConfig URL does not carry it either", async () => {
    const { SessionManager } = await import("../src/index.js");
    await import("../src/providers/index.js"); // registers "redis"
    const load = async () => new SessionManager({ provider: "redis", providerConfig: `redis://:${PASSWORD}@[::1:6379/0`, gcInterval: 0 }).load();
    const error = await load().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TypeError);
    expect(String((error as Error).message)).not.toContain(PASSWORD);
    expect(String((error as Error).message)).toContain("redis://:***@[::1:6379/0");
  });
});

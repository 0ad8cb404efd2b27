import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import mysql from "mysql2/promise";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionStore } from "../src/index.js";
import { SessionManager } from "../src/index.js";
import { FileStore } from "../src/stores/file.js";
import { MySQLStore } from "../src/stores/mysql.js";
import { PostgresStore } from "../src/stores/postgres.js";
import { RedisStore } from "../src/stores/redis.js";
import { movingClock } from "./support/clock.js";
import { MYSQL_URL, POSTGRES_URL, REDIS_URL, serverAvailable } from "./support/servers.js";

// The `sessionkit` binary as an operator runs it: the built dist/cli/main.js (npm test builds
// first), against the real servers, asserting stdout, stderr and the exit code.
const BIN = join(import.meta.dirname, "..", "dist", "cli", "main.js");
const unique = () => `cli_${randomBytes(4).toString("hex")}`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function sessionkit(args: string[], env: Record<string, string> = {}): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { env: { ...process.env, SESSION_STORE: "", ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

/** One line on stderr, no stack trace: what an operator sees for bad input. */
function expectOneLineError(run: Run, code: number, text: string | RegExp): void {
  expect(run.code).toBe(code);
  expect(run.stdout).toBe("");
  expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(run.stderr).toMatch(text);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

/** Live sessions made through the manager, as an app makes them; signed in as `user` when given. */
async function seed(store: SessionStore, count: number, options: { user?: string; now?: () => number } = {}): Promise<void> {
  const manager = new SessionManager({ store, gcInterval: 0, now: options.now ?? movingClock() });
  for (let i = 0; i < count; i++) {
    const session = await manager.load(undefined, { device: { ip: `10.0.0.${i + 1}`, headers: { "user-agent": `device-${i + 1}` } } });
    session.set("n", i);
    if (options.user) await session.signIn(options.user);
    await manager.commit(session);
  }
}

/** list and revoke, as an operator answers "this account is compromised", on one store. */
function perUserCases(label: string, store: () => SessionStore, args: () => string[], enabled = true): void {
  it.runIf(enabled)(`${label}: list shows a user's devices; revoke --handle, --except and all end them`, async () => {
    const user = `user-${unique()}`;
    await seed(store(), 3, { user });
    await seed(store(), 1, { user: `${user}-other` });
    const manager = new SessionManager({ store: store(), gcInterval: 0 });
    const handles = (await manager.listSessions(user)).map((info) => info.handle);
    expect(handles).toHaveLength(3);

    const table = await sessionkit(["list", ...args(), "--user", user]);
    expect(table).toMatchObject({ code: 0, stderr: "" });
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^HANDLE\s+DEVICE\s+IP\s+SIGNED IN\s+LAST SEEN\s+EXPIRES$/);
    expect(lines.slice(1).map((line) => line.split(/\s+/)[0])).toEqual(handles); // newest sign-in first
    expect(lines[1]).toMatch(/ device-3 +10\.0\.0\.3 +\d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    const json = JSON.parse((await sessionkit(["list", ...args(), "--user", user, "--json"])).stdout) as Array<{ handle: string; ip: string }>;
    expect(json.map((info) => [info.handle, info.ip])).toEqual(handles.map((handle, i) => [handle, `10.0.0.${3 - i}`]));

    expect(await sessionkit(["revoke", ...args(), "--user", user, "--handle", handles[2]!])).toMatchObject({ code: 0, stdout: "revoked 1 session\n" });
    expectOneLineError(await sessionkit(["revoke", ...args(), "--user", user, "--handle", handles[2]!]), 1, "has no live session with handle");
    expect(await sessionkit(["revoke", ...args(), "--user", user, "--except", handles[0]!, "--json"])).toMatchObject({ code: 0, stdout: '{"revoked":1}\n' });
    expect((await manager.listSessions(user)).map((info) => info.handle)).toEqual([handles[0]]);
    expect(await sessionkit(["revoke", ...args(), "--user", user])).toMatchObject({ code: 0, stdout: `revoked 1 session of user "${user}"\n` });
    expect(await sessionkit(["list", ...args(), "--user", user])).toMatchObject({ code: 0, stdout: `no live sessions of user "${user}"\n` });
    expect(await manager.listSessions(`${user}-other`)).toHaveLength(1); // another user is untouched
  });
}

describe("usage errors", () => {
  it("an unknown command is one line on stderr and exit code 2", async () => {
    expectOneLineError(await sessionkit(["frob", "--store", "127.0.0.1:6379"]), 2, /^sessionkit: unknown command "frob"; commands: count, gc, list, revoke, schema \(see sessionkit --help\)\n$/);
  });

  it("an unknown option, a missing store or a store of an unknown kind is a usage error", async () => {
    expectOneLineError(await sessionkit(["count", "--bogus"]), 2, "sessionkit: Unknown option '--bogus' (see sessionkit --help)");
    expectOneLineError(await sessionkit(["count"]), 2, "no store: give --store or set SESSION_STORE");
    expectOneLineError(await sessionkit(["count", "--store", "mongodb://127.0.0.1/x"]), 2, 'unsupported URL scheme "mongodb:"');
    expectOneLineError(await sessionkit(["count", "--store", "127.0.0.1:6379", "--table", "t"]), 2, "--table applies to SQL stores (postgres, mysql), not to redis");
    expectOneLineError(await sessionkit(["list", "--store", "127.0.0.1:6379"]), 2, "list needs --user");
  });

  it("a directory that does not exist is refused, not created as an empty store", async () => {
    expectOneLineError(await sessionkit(["count", "--store", "/nonexistent/sessions"]), 2, '"/nonexistent/sessions" is not an existing directory');
  });

  // Issue 31: an operator's typo must not print the database password on stderr (CI logs, terminals).
  const PASSWORD = "Pw-s3cret-1234";
  const leakyStores = [
    `redis://:${PASSWORD}@[::1:6379/0`,
    `postgres://u:${PASSWORD}@host:99999/x`,
    `postgresql://u:${PASSWORD}@host/x?sslmode=x&password=${PASSWORD}:99999`,
    `postgres://host:99999/db?password=${PASSWORD}`,
    `rediss://user:${PASSWORD}@exa mple:6379`,
    `mysql://u:${PASSWORD}@host:0x/db`,
    `sentinel://:${PASSWORD}@host:26379`,
    `sentinel://${PASSWORD}@host`,
    `'bad password=${PASSWORD} host=h`,
    `host=h password='${PASSWORD} x' port=1 x`,
    `redis:/:${PASSWORD}@host:6379`,
  ];
  it("no error message echoes a password from --store or SESSION_STORE, with or without --debug", async () => {
    for (const store of leakyStores) {
      for (const run of [
        await sessionkit(["count", "--store", store]),
        await sessionkit(["count", "--debug"], { SESSION_STORE: store }),
      ]) {
        expect(run.code, store).not.toBe(0);
        expect(run.stderr, store).toMatch(/^sessionkit: /);
        expect(run.stderr, store).not.toContain(PASSWORD);
        expect(run.stderr, store).not.toContain(encodeURIComponent(PASSWORD));
      }
    }
    const run = await sessionkit(["count", "--store", leakyStores[0]!]);
    expect(run.stderr).toContain("redis://:***@[::1:6379/0");
  });

  it("--help prints the usage on stdout", async () => {
    const run = await sessionkit(["--help"]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toMatch(/^usage: sessionkit <command> --store <store>/);
  });
});

describe("file store (a directory)", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "sessionkit-cli-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("counts live sessions; SESSION_STORE works as --store", async () => {
    await seed(new FileStore({ dir }), 3);
    expect(await sessionkit(["count", "--store", dir])).toEqual({ code: 0, stdout: "3 live sessions\n", stderr: "" });
    expect(await sessionkit(["count", "--json"], { SESSION_STORE: dir })).toEqual({ code: 0, stdout: '{"count":3}\n', stderr: "" });
  });

  perUserCases("file", () => new FileStore({ dir }), () => ["--store", dir]);

  it("takes a handle that starts with a dash (base64url) as the option's value", async () => {
    expectOneLineError(await sessionkit(["revoke", "--store", dir, "--user", "u1", "--handle", "-Ab_c"]), 1, 'user "u1" has no live session with handle "-Ab_c"');
  });

  it("the file store has no schema", async () => {
    expectOneLineError(await sessionkit(["schema", "--store", dir]), 2, "schema: only SQL stores (postgres, mysql) have a schema; the file store needs none");
  });
});

describe("redis", async () => {
  const available = await serverAvailable("Redis", "REDIS_URL", REDIS_URL);
  const prefix = `${unique()}:`;
  const client = createClient({ url: REDIS_URL });
  beforeAll(async () => {
    if (available) await client.connect();
  });
  afterAll(async () => {
    if (!client.isOpen) return;
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*` })) if (keys.length > 0) await client.del(keys);
    await client.quit();
  });

  it.runIf(available)("counts the sessions under --prefix only", async () => {
    await seed(new RedisStore({ client, prefix }), 2);
    expect(await sessionkit(["count", "--store", REDIS_URL, "--prefix", prefix])).toMatchObject({ code: 0, stdout: "2 live sessions\n" });
    const beego = REDIS_URL.replace(/^redis:\/\//, "").replace(/\/.*$/, ""); // "host:port", beego's form
    expect(await sessionkit(["count", "--store", beego, "--prefix", prefix, "--json"])).toMatchObject({ code: 0, stdout: '{"count":2}\n' });
  });

  perUserCases("redis", () => new RedisStore({ client, prefix }), () => ["--store", REDIS_URL, "--prefix", prefix], available);

  it("an unreachable server is one line and exit code 1, without hanging on reconnects", async () => {
    expectOneLineError(await sessionkit(["count", "--store", "redis://127.0.0.1:1"]), 1, /^sessionkit: connect ECONNREFUSED 127\.0\.0\.1:1\n$/);
  });

  it("--debug adds the stack trace", async () => {
    const run = await sessionkit(["count", "--store", "redis://127.0.0.1:1", "--debug"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^sessionkit: connect ECONNREFUSED 127\.0\.0\.1:1\nError: connect ECONNREFUSED[^\n]*\n\s+at /);
  });
});

describe("postgresql", async () => {
  const available = await serverAvailable("PostgreSQL", "POSTGRES_URL", POSTGRES_URL);
  const table = unique();
  const pool = new pg.Pool({ connectionString: POSTGRES_URL });
  afterAll(async () => {
    if (available) await pool.query(`DROP TABLE IF EXISTS "${table}"`);
    await pool.end();
  });

  it.runIf(available)("schema prints the store's own DDL and --apply creates the table", async () => {
    const printed = await sessionkit(["schema", "--store", POSTGRES_URL, "--table", table]);
    expect(printed.code).toBe(0);
    const ddl = new PostgresStore({ pool, tableName: table }).schemaStatements();
    expect(printed.stdout).toBe(`${ddl.map((statement) => `${statement};`).join("\n\n")}\n`);
    expect((await pool.query("SELECT to_regclass($1) AS t", [table])).rows[0].t).toBeNull(); // printing changes nothing
    expect(await sessionkit(["schema", "--store", POSTGRES_URL, "--table", table, "--apply", "--json"])).toMatchObject({
      code: 0,
      stdout: `${JSON.stringify({ statements: ddl, upgrade: [], applied: true })}\n`,
    });
    expect(await sessionkit(["count", "--store", POSTGRES_URL, "--table", table])).toMatchObject({ code: 0, stdout: "0 live sessions\n" });
  });

  it.runIf(available)("gc deletes the expired sessions, with progress on stderr", async () => {
    const store = new PostgresStore({ pool, tableName: table });
    const twoDaysAgo = () => Date.now() - 2 * 24 * 3600_000;
    await seed(store, 3, { now: twoDaysAgo });
    await seed(store, 1);
    const run = await sessionkit(["gc", "--store", POSTGRES_URL, "--table", table]);
    expect(run).toMatchObject({ code: 0, stdout: "removed 3 expired sessions\n" });
    expect(run.stderr).toMatch(/^gc: deleting expired sessions…\ngc: done in \d+\.\d s\n$/);
    expect(await sessionkit(["count", "--store", POSTGRES_URL, "--table", table, "--json"])).toMatchObject({ stdout: '{"count":1}\n' });
  });

  perUserCases("postgresql", () => new PostgresStore({ pool, tableName: table }), () => ["--store", POSTGRES_URL, "--table", table], available);

  it.runIf(available)("a wrong --table is reported (and not created)", async () => {
    const missing = unique();
    expectOneLineError(await sessionkit(["count", "--store", POSTGRES_URL, "--table", missing]), 1, `relation "${missing}" does not exist (check --table`);
    expect((await pool.query("SELECT to_regclass($1) AS t", [missing])).rows[0].t).toBeNull();
  });

  it("an unreachable server is one line and exit code 1", async () => {
    expectOneLineError(await sessionkit(["count", "--store", "postgres://postgres@127.0.0.1:1/test"]), 1, "ECONNREFUSED 127.0.0.1:1");
  });
});

describe("mysql / mariadb", async () => {
  const available = await serverAvailable("MySQL", "MYSQL_URL", MYSQL_URL);
  const table = unique();
  const pool = mysql.createPool({ uri: MYSQL_URL });
  // The Go DSN form beego apps have: user:password@tcp(host:port)/dbname
  const url = new URL(MYSQL_URL);
  const dsn = `${url.username}${url.password ? `:${url.password}` : ""}@tcp(${url.hostname}:${url.port || 3306})${url.pathname}`;
  afterAll(async () => {
    if (available) await pool.query(`DROP TABLE IF EXISTS \`${table}\``);
    await pool.end();
  });

  it.runIf(available)("counts and gcs a table given by a Go DSN", async () => {
    const store = new MySQLStore({ pool, tableName: table, cleanupInterval: 0 });
    await seed(store, 2, { now: () => Date.now() - 2 * 24 * 3600_000 });
    await seed(store, 2);
    expect(await sessionkit(["count", "--store", dsn, "--table", table])).toMatchObject({ code: 0, stdout: "2 live sessions\n" });
    expect(await sessionkit(["gc", "--store", dsn, "--table", table, "--json"])).toMatchObject({ code: 0, stdout: '{"removed":2}\n' });
  });

  perUserCases("mysql", () => new MySQLStore({ pool, tableName: table, cleanupInterval: 0 }), () => ["--store", dsn, "--table", table], available);

  it.runIf(available)("schema prints the CREATE TABLE and, commented out, the one-time upgrade of a 0.1 table", async () => {
    const store = new MySQLStore({ pool, tableName: table, cleanupInterval: 0 });
    const [create] = store.schemaStatements();
    const [upgrade] = store.upgradeStatements();
    expect(upgrade).toMatch(/^ALTER TABLE `cli_\w+` ADD COLUMN `user_id`/);
    const printed = await sessionkit(["schema", "--store", dsn, "--table", table]);
    expect(printed).toMatchObject({ code: 0, stderr: "" });
    expect(printed.stdout).toBe(`${create};\n\n-- A table made by sessionkit 0.1 needs this once (--apply checks and runs it):\n-- ${upgrade};\n`);
  });

  it.runIf(available)("a wrong --table is one line and exit code 1", async () => {
    expectOneLineError(await sessionkit(["count", "--store", MYSQL_URL, "--table", "no_such_cli_table"]), 1, "Table 'test.no_such_cli_table' doesn't exist (check --table");
  });
});

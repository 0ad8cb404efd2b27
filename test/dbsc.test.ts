/**
 * Device Bound Session Credentials at the protocol level: a node:crypto "browser" (ES256 and
 * RS256 keys) drives a real node:http server on 127.0.0.1, over MemoryStore and a real Redis.
 * The clock is the manager's `now`, so a bound cookie's lifetime passes without waiting.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import mysql from "mysql2/promise";
import pg from "pg";
import { createClient } from "redis";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import type { SessionEvent, SessionStore } from "../src/index.js";
import { MemoryStore, SessionManager, serveDbsc } from "../src/index.js";
import { issueChallenge, registrationKey } from "../src/core/dbsc/tokens.js";
import { CookieStore } from "../src/stores/cookie.js";
import "../src/providers/index.js"; // registers the "cookie" provider
import { FileStore } from "../src/stores/file.js";
import { DynamoStore } from "../src/stores/dynamodb.js";
import { MySQLStore } from "../src/stores/mysql.js";
import { PostgresStore } from "../src/stores/postgres.js";
import { SqliteStore } from "../src/stores/sqlite.js";
import { RedisStore } from "../src/stores/redis.js";
import { GatedStore } from "../src/testing/gate.js";
import type { Alg } from "./support/dbsc-browser.js";
import { Browser, DbscKey } from "./support/dbsc-browser.js";
import { listen } from "./support/http.js";
import { MYSQL_URL, POSTGRES_URL, REDIS_URL, serverAvailable } from "./support/servers.js";
import { SQLITE_PATH } from "./support/sqlite.js";

const redisUp = await serverAvailable("Redis", "REDIS_URL", REDIS_URL);
const postgresUp = await serverAvailable("PostgreSQL", "POSTGRES_URL", POSTGRES_URL);
const pool = postgresUp ? new pg.Pool({ connectionString: POSTGRES_URL, max: 4 }) : undefined;
const tables: string[] = [];
const redis = redisUp ? createClient({ url: REDIS_URL }) : undefined;
if (redis) await redis.connect();
const prefix = `dbsc-test-${randomBytes(6).toString("hex")}:`;
const mysqlUp = await serverAvailable("MariaDB", "MYSQL_URL", MYSQL_URL);
const mysqlPool = mysqlUp ? mysql.createPool({ uri: MYSQL_URL, connectionLimit: 4 }) : undefined;
const mysqlTables: string[] = [];
// DynamoDB's API on LevelDB, in-process on a free loopback port; a table per case.
const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
await new Promise<void>((resolve) => dynamo.listen(0, "127.0.0.1", resolve));
const dynamoClient = new DynamoDBClient({
  endpoint: `http://127.0.0.1:${(dynamo.address() as AddressInfo).port}`,
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});
afterAll(async () => {
  for (const table of mysqlTables) await mysqlPool!.query(`DROP TABLE IF EXISTS \`${table}\``);
  await mysqlPool?.end();
  dynamoClient.destroy();
  await new Promise((resolve) => dynamo.close(resolve));
});
afterAll(async () => {
  for (const table of tables) await pool!.query(`DROP TABLE IF EXISTS "${table}"`);
  await pool?.end();
  if (!redis) return;
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*` })) if (keys.length > 0) await redis.del(keys);
  await redis.quit();
});

const MINUTE = 60_000;
const SECRET = randomBytes(32).toString("base64url");
const fileDir = mkdtempSync(join(tmpdir(), "sessionkit-dbsc-"));
afterAll(() => rmSync(fileDir, { recursive: true, force: true }));

interface Setup {
  browser(alg?: Alg): Browser;
  manager: SessionManager;
  events: SessionEvent[];
  advance(ms: number): void;
  /** The manager's clock. */
  now(): number;
  store: SessionStore;
}

/** The app: /login signs in as ?user (default alice), /logout destroys, /me reports. */
async function setup(store: SessionStore, dbsc: ConstructorParameters<typeof SessionManager>[0]["dbsc"] = {}): Promise<Setup & { close(): Promise<void> }> {
  let now = Date.now();
  const events: SessionEvent[] = [];
  const manager = new SessionManager({ store, dbsc, now: () => now, onEvent: (event) => events.push(event) });
  const server = createServer(async (req, res) => {
    try {
      if (await serveDbsc(manager, req, res)) return;
      const session = await manager.start(req);
      const url = new URL(req.url ?? "/", "http://x");
      if (url.pathname === "/login") await session.signIn(url.searchParams.get("user") ?? "alice");
      if (url.pathname === "/logout") await session.destroy();
      if (url.pathname === "/visit") session.set("visited" as never, true as never);
      await manager.release(session, res);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ userId: session.userId ?? null, bound: session.bound, handle: session.userId ? session.handle : null }));
    } catch (error) {
      res.statusCode = 500;
      res.end(String(error));
    }
  });
  const served = await listen(server);
  return {
    browser: (alg = "ES256") => new Browser(served.url, alg),
    manager,
    events,
    store,
    advance: (ms) => (now += ms),
    now: () => now,
    close: served.close,
  };
}

/** Signs in and completes registration; the browser then holds a bound cookie. */
async function boundBrowser(s: Setup, alg: Alg = "ES256", user = "alice"): Promise<Browser> {
  const browser = s.browser(alg);
  await browser.fetch(`/login?user=${user}`);
  const response = await browser.register();
  expect(response.status).toBe(200);
  return browser;
}

const kinds: { name: string; up: boolean; store: () => SessionStore }[] = [
  { name: "MemoryStore", up: true, store: () => new MemoryStore() },
  { name: "FileStore", up: true, store: () => new FileStore({ dir: mkdtempSync(join(fileDir, "case-")) }) },
  // A prefix per case, so listSessions sees only this case's users.
  { name: "RedisStore", up: redisUp, store: () => new RedisStore({ client: redis!, prefix: `${prefix}${randomBytes(4).toString("hex")}:` }) },
  {
    name: "PostgresStore",
    up: postgresUp,
    store: () => {
      const tableName = `sk_dbsc_${process.pid}_${tables.length}`;
      tables.push(tableName);
      return new PostgresStore({ pool: pool!, tableName });
    },
  },
  {
    name: "MySQLStore",
    up: mysqlUp,
    store: () => {
      const tableName = `sk_dbsc_${process.pid}_${mysqlTables.length}`;
      mysqlTables.push(tableName);
      return new MySQLStore({ pool: mysqlPool!, tableName });
    },
  },
  { name: "SqliteStore", up: SQLITE_PATH, store: () => new SqliteStore({ path: join(mkdtempSync(join(fileDir, "sqlite-")), "sessions.db") }) },
  { name: "DynamoStore (dynalite)", up: true, store: () => new DynamoStore({ client: dynamoClient, tableName: `sk_dbsc_${randomBytes(6).toString("hex")}`, createTable: true }) },
];

for (const kind of kinds) {
  for (const alg of ["ES256", "RS256"] as const) {
    describe.skipIf(!kind.up)(`DBSC over ${kind.name}, ${alg}`, () => {
      let s: Setup & { close(): Promise<void> };
      beforeEach(async () => {
        s = await setup(kind.store());
        return () => s.close();
      });

      it("offers registration after signIn, and only then", async () => {
        const browser = s.browser(alg);
        const anonymous = await browser.fetch("/me");
        expect(anonymous.headers.get("secure-session-registration")).toBeNull();
        const login = await browser.fetch("/login");
        expect(browser.lastRegistration).toMatchObject({ algorithms: ["ES256", "RS256"], path: "/.sessionkit/dbsc/register" });
        expect(login.headers.get("secure-session-registration")).toMatch(/^\(ES256 RS256\);path="\/\.sessionkit\/dbsc\/register";challenge="[^"]+"$/);
        const again = await browser.fetch("/me");
        expect(again.headers.get("secure-session-registration")).toBeNull();
        // A browser without DBSC never registers: the session works as before, unbound.
        expect(await browser.me()).toEqual({ userId: "alice", bound: false, handle: expect.any(String) });
      });

      it("offers registration when an already stored anonymous session signs in", async () => {
        const browser = s.browser(alg);
        await browser.fetch("/visit");
        expect(browser.jar.has("sid")).toBe(true);
        await browser.fetch("/login");
        expect(browser.lastRegistration).not.toBeNull();
        expect((await browser.register()).status).toBe(200);
        expect(await browser.me()).toMatchObject({ userId: "alice", bound: true });
      });

      it("registration binds the session: instructions, bound cookie, session.bound, listSessions", async () => {
        const browser = s.browser(alg);
        await browser.fetch("/login");
        const response = await browser.register();
        expect(response.status).toBe(200);
        expect(response.headers.get("cache-control")).toBe("private, no-store");
        const body = await response.json();
        expect(body).toEqual({
          session_identifier: expect.stringMatching(/^[\w-]{22}$/),
          refresh_url: "/.sessionkit/dbsc/refresh",
          scope: { include_site: false },
          credentials: [{ type: "cookie", name: "sk_bound", attributes: "Path=/; HttpOnly; SameSite=Lax" }],
        });
        expect(response.headers.getSetCookie().find((c) => c.startsWith("sk_bound="))).toMatch(/^sk_bound=[\w.-]+; Max-Age=600; Path=\/; HttpOnly; SameSite=Lax$/);
        expect(await browser.me()).toMatchObject({ userId: "alice", bound: true });
        const sessions = await s.manager.listSessions("alice");
        expect(sessions).toHaveLength(1);
        expect(sessions[0]!.bound).toBe(true);
        expect(s.events.map((e) => e.type)).toContain("bound");
      });

      it("refresh issues a new bound cookie only against a signed fresh challenge", async () => {
        const browser = await boundBrowser(s, alg);
        const before = browser.jar.get("sk_bound");
        s.advance(11 * MINUTE); // past the 10-minute bound cookie
        // Without a proof the endpoint answers with a challenge and no cookie.
        const challenged = await browser.fetch(browser.refreshUrl!, { method: "POST", headers: { "sec-secure-session-id": `"${browser.sessionId}"` } });
        expect(challenged.status).toBe(403);
        expect(challenged.headers.getSetCookie()).toEqual([]);
        expect(challenged.headers.get("secure-session-challenge")).toMatch(new RegExp(`^"[\\w.-]+";id="${browser.sessionId}"$`));
        const refreshed = await browser.refresh();
        expect(refreshed.status).toBe(200);
        expect(refreshed.headers.get("cache-control")).toBe("private, no-store");
        expect(browser.jar.get("sk_bound")).not.toBe(before);
        expect(await browser.me()).toMatchObject({ userId: "alice", bound: true });
        expect(s.events.filter((e) => e.type === "binding-failed")).toEqual([]);
      });

      it("a stolen bound cookie stops working after its lifetime, and the thief cannot refresh", async () => {
        const browser = await boundBrowser(s, alg);
        const thief = browser.steal();
        // Within the lifetime the copy works: this is the window DBSC leaves (option boundCookie.maxAge).
        expect(await thief.me()).toMatchObject({ userId: "alice" });
        s.advance(10 * MINUTE + 1000);
        expect(await thief.me()).toEqual({ userId: null, bound: false, handle: null });
        const failed = s.events.filter((e) => e.type === "binding-failed");
        expect(failed).toHaveLength(1);
        expect(failed[0]).toMatchObject({ userId: "alice", handle: expect.any(String) });
        // The thief's own key signs a genuine challenge: refused.
        const answer = await thief.answer(thief.refreshProof(await thief.challenge()));
        expect(answer.status).toBe(403);
        expect(answer.headers.getSetCookie()).toEqual([]);
        expect(await thief.me()).toMatchObject({ userId: null });
        // The device that holds the key goes on.
        expect((await browser.refresh()).status).toBe(200);
        expect(await browser.me()).toMatchObject({ userId: "alice", bound: true });
      });

      it("refuses a registration proof signed by another key than the one it carries", async () => {
        const browser = s.browser(alg);
        await browser.fetch("/login");
        const response = await browser.register(browser.registrationProof(new DbscKey(alg)));
        expect(response.status).toBe(403);
        expect(response.headers.getSetCookie()).toEqual([]);
        expect(await browser.me()).toMatchObject({ userId: "alice", bound: false });
        expect(s.events.map((e) => e.type)).toContain("binding-failed");
      });

      it("refuses a replayed refresh proof", async () => {
        const browser = await boundBrowser(s, alg);
        s.advance(11 * MINUTE);
        const proof = browser.refreshProof(await browser.challenge());
        expect((await browser.answer(proof)).status).toBe(200);
        const thief = browser.steal();
        thief.jar.delete("sk_bound");
        const replay = await thief.answer(proof);
        expect(replay.status).toBe(403);
        expect(replay.headers.getSetCookie()).toEqual([]);
        expect(await thief.me()).toMatchObject({ userId: null });
        expect(s.events.filter((e) => e.type === "binding-failed")).toHaveLength(2); // the replay, then the load without a bound cookie
      });

      it("refuses a proof made for another session", async () => {
        const alice = await boundBrowser(s, alg, "alice");
        const bob = await boundBrowser(s, alg, "bob");
        s.advance(11 * MINUTE);
        // Alice's challenge, signed by Alice, sent with Bob's cookies and session id: Bob's key does not verify it.
        const aliceProof = alice.refreshProof(await alice.challenge());
        const mixed = await bob.answer(aliceProof);
        expect(mixed.status).toBe(403);
        expect(mixed.headers.getSetCookie()).toEqual([]);
        // Alice's challenge signed with Bob's key: the challenge is not Bob's session's.
        const foreign = await bob.answer(bob.refreshProof(await alice.challenge()));
        expect(foreign.status).toBe(403);
        expect(foreign.headers.getSetCookie()).toEqual([]);
        expect(await bob.me()).toMatchObject({ userId: null });
        expect((await bob.refresh()).status).toBe(200);
        expect(await bob.me()).toMatchObject({ userId: "bob" });
      });

      it("a refresh after revocation or logout ends the browser's session (continue: false)", async () => {
        const browser = await boundBrowser(s, alg);
        const { handle } = (await browser.me()) as unknown as { handle: string };
        expect(await s.manager.revokeSession("alice", handle)).toBe(true);
        const response = await browser.fetch(browser.refreshUrl!, { method: "POST", headers: { "sec-secure-session-id": `"${browser.sessionId}"` } });
        expect(response.status).toBe(200);
        expect(await response.json()).toEqual({ session_identifier: browser.sessionId, continue: false });
        expect(browser.jar.has("sk_bound")).toBe(false);
        expect(await browser.me()).toMatchObject({ userId: null });

        const other = await boundBrowser(s, alg);
        await other.fetch("/logout");
        const ended = await other.fetch(other.refreshUrl!, { method: "POST", headers: { "sec-secure-session-id": `"${other.sessionId}"` } });
        expect(await ended.json()).toEqual({ session_identifier: other.sessionId, continue: false });
      });

      it("two tabs refresh at once, each with its own challenge: both get a cookie", async () => {
        const browser = await boundBrowser(s, alg);
        s.advance(11 * MINUTE);
        const [a, b] = await Promise.all([browser.challenge(), browser.challenge()]);
        const [ra, rb] = await Promise.all([browser.answer(browser.refreshProof(a)), browser.answer(browser.refreshProof(b))]);
        expect([ra.status, rb.status]).toEqual([200, 200]);
        expect(await browser.me()).toMatchObject({ userId: "alice", bound: true });
      });
    });
  }
}

describe("DBSC races, forced", () => {
  it("one proof sent twice at once: the second consume is held until the first won, and loses", async () => {
    const gated = new GatedStore(new MemoryStore());
    const s = await setup(gated);
    try {
      const browser = await boundBrowser(s);
      s.advance(11 * MINUTE);
      const proof = browser.refreshProof(await browser.challenge());
      const held = gated.hold("set", (key) => key.startsWith("dbsc-"));
      const first = browser.answer(proof);
      await held.reached; // tab A has verified the proof and is about to mark the challenge used
      const second = await browser.answer(proof); // tab B's copy runs to the end meanwhile
      expect(second.status).toBe(200);
      held.release();
      expect((await first).status).toBe(403);
    } finally {
      await s.close();
    }
  });

  it("two tabs, two challenges: tab B marks its challenge while A's mark is held; both succeed", async () => {
    const gated = new GatedStore(new MemoryStore());
    const s = await setup(gated);
    try {
      const browser = await boundBrowser(s);
      s.advance(11 * MINUTE);
      const [a, b] = [await browser.challenge(), await browser.challenge()];
      const held = gated.hold("set", (key) => key.startsWith("dbsc-"));
      const tabA = browser.answer(browser.refreshProof(a));
      await held.reached;
      expect((await browser.answer(browser.refreshProof(b))).status).toBe(200);
      held.release();
      expect((await tabA).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe("DBSC input handling", () => {
  let s: Setup & { close(): Promise<void> };
  beforeEach(async () => {
    s = await setup(new MemoryStore());
    return () => s.close();
  });

  it("answers bad requests without a crash and binds nothing", async () => {
    const browser = s.browser();
    await browser.fetch("/login");
    const path = browser.lastRegistration!.path;
    for (const value of ['"', '"a.b"', "not a jwt", `"${"x".repeat(9000)}"`, '"e30.e30.AAAA"']) {
      const response = await browser.fetch(path, { method: "POST", headers: { "secure-session-response": value } });
      expect([400, 403]).toContain(response.status);
    }
    expect((await browser.fetch(path)).status).toBe(405);
    // A proof whose challenge is not the one offered to this session.
    const wrongChallenge = browser.key.proof({ jti: "0.AAAA.AAAA", key: browser.key.jwk });
    expect((await browser.register(wrongChallenge)).status).toBe(403);
    // An RS256 key offered as ES256 (algorithm confusion).
    const rsa = new DbscKey("RS256");
    const confused = rsa.proof({ jti: browser.lastRegistration!.challenge, key: rsa.jwk }, { alg: "ES256" });
    expect((await browser.register(confused)).status).toBe(403);
    expect(await browser.me()).toMatchObject({ userId: "alice", bound: false });
    // The genuine proof still binds afterwards (a refused one used nothing up).
    expect((await browser.register()).status).toBe(200);
    expect(await browser.me()).toMatchObject({ bound: true });
  });

  /** A registration challenge as anyone holding the session cookie can make one (the algorithm is public). */
  const forgedOffer = (victim: Browser) => ({
    ...victim.lastRegistration!,
    challenge: issueChallenge(registrationKey(victim.jar.get("sid")!), "register", "", s.now() + 60_000),
  });

  it("never re-binds a bound session to another key, and never binds an anonymous one", async () => {
    const browser = await boundBrowser(s);
    const thief = browser.steal();
    thief.key = new DbscKey("ES256");
    thief.lastRegistration = forgedOffer(browser);
    expect((await thief.register()).status).toBe(403);
    expect(await browser.me()).toMatchObject({ userId: "alice", bound: true });
    const anonymous = s.browser();
    await anonymous.fetch("/me");
    anonymous.lastRegistration = browser.lastRegistration;
    expect((await anonymous.register()).status).toBe(403);
  });

  it("a registration challenge expires", async () => {
    const browser = s.browser();
    await browser.fetch("/login");
    s.advance(6 * MINUTE);
    expect((await browser.register()).status).toBe(403);
  });

  it("a cookie thief cannot bind an unbound session to their key once 5 minutes passed since sign-in", async () => {
    const browser = s.browser(); // a browser without DBSC: signs in, never registers
    await browser.fetch("/login");
    s.advance(5 * MINUTE + 1000);
    const thief = browser.steal();
    thief.key = new DbscKey("ES256");
    thief.lastRegistration = forgedOffer(browser);
    expect((await thief.register()).status).toBe(403);
    expect(await browser.me()).toMatchObject({ userId: "alice", bound: false });
  });

  it("a corrupt stored binding fails closed: the session does not load, even with a valid bound cookie", async () => {
    const gated = new GatedStore(new MemoryStore());
    const local = await setup(gated);
    try {
      const browser = await boundBrowser(local);
      expect(await browser.me()).toMatchObject({ userId: "alice", bound: true });
      const key = gated.calls.filter((call) => call.startsWith("set ") && !call.startsWith("set dbsc-")).at(-1)!.slice(4);
      const record = (await gated.inner.get(key))!;
      const bar = record.data.indexOf("|");
      const [createdAt, meta] = record.data.slice(0, bar).split("~");
      const user = JSON.parse(Buffer.from(meta!, "base64url").toString()) as { b: { k: { x?: string; n?: string } } };
      user.b.k = { ...user.b.k, x: "not-a-point", n: "AQAB" };
      const data = `${createdAt}~${Buffer.from(JSON.stringify(user)).toString("base64url")}${record.data.slice(bar)}`;
      expect(await gated.inner.set(key, { ...record, data, version: record.version + 1, expectedVersion: record.version })).toBe(true);
      expect(await browser.me()).toMatchObject({ userId: null, bound: false });
    } finally {
      await local.close();
    }
  });

  it("rejects misuse at construction", () => {
    expect(() => new SessionManager({ store: new MemoryStore(), dbsc: { algorithms: ["HS256" as "ES256"] } })).toThrow(/dbsc.algorithms/);
    expect(() => new SessionManager({ store: new MemoryStore(), dbsc: { refreshPath: "dbsc" } })).toThrow(/dbsc.refreshPath/);
    expect(() => new SessionManager({ store: new MemoryStore(), header: "x-token", dbsc: {} })).toThrow(/header/);
    expect(() => new SessionManager({ store: new CookieStore({ secrets: [SECRET] }), dbsc: {} })).toThrow(/server-side store/);
  });

  it("refuses a cookie-store provider at first use", async () => {
    const manager = new SessionManager({ provider: "cookie", providerConfig: JSON.stringify({ secrets: [SECRET] }), dbsc: {} });
    await expect(manager.load()).rejects.toThrow(/server-side store/);
  });
});

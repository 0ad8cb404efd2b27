/**
 * Real express-session apps write sessions; a sessionkit app with migrateFrom reads them.
 * Legacy stores: express-session's MemoryStore and connect-redis on the real Redis.
 */
import { createHmac, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RedisStore } from "connect-redis";
import express from "express";
import type { ErrorRequestHandler } from "express";
import session from "express-session";
import sessionFileStore from "session-file-store";
import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { LegacySessionRecord, LegacyStore } from "../src/adapters/express-session.js";
import { fromExpressSession } from "../src/adapters/express-session.js";
import { sessionMiddleware } from "../src/adapters/express.js";
import { SessionManager } from "../src/core/manager.js";
import { MemoryStore } from "../src/stores/memory.js";
import { REDIS_URL, serverAvailable } from "./support/servers.js";

const NEW_SECRET = "legacy secret, the current one";
const OLD_SECRET = "legacy secret, rotated out last year";
const SECRETS = [NEW_SECRET, OLD_SECRET];

interface Running {
  url: string;
  close(): Promise<void>;
}

const running: Running[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((app) => app.close()));
});

function listen(app: express.Express): Promise<string> {
  return new Promise((resolve) => {
    const server: Server = app.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      running.push({ url: "", close: () => new Promise((done) => server.close(() => done())) });
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}

/** The old app: express 5 + express-session, logging a user in. */
async function legacyLogin(store: session.Store, secret: string | string[] = SECRETS): Promise<{ cookie: string; sid: string }> {
  const app = express();
  app.use(session({ secret, store, resave: false, saveUninitialized: false }));
  app.get("/login", (req, res) => {
    const legacy = (req as unknown as { session: Record<string, unknown> }).session;
    legacy.user = "alice";
    legacy.cart = [1, 2];
    res.send("ok");
  });
  const response = await fetch(`${await listen(app)}/login`);
  const line = response.headers.getSetCookie().find((c) => c.startsWith("connect.sid="))!;
  const cookie = line.split(";")[0]!;
  const signed = decodeURIComponent(cookie.slice("connect.sid=".length));
  return { cookie, sid: signed.slice(2, signed.lastIndexOf(".")) };
}

/** The new app: express + sessionkit, migrating from `legacyStore`; errors reach `errors`. */
async function sessionkitApp(legacyStore: LegacyStore, secret: string | string[] = SECRETS, sidPattern?: RegExp) {
  const store = new MemoryStore();
  const errors: unknown[] = [];
  const migrateFrom = fromExpressSession({ store: legacyStore, secret, sidPattern });
  const manager = new SessionManager({ store, gcInterval: 0, migrateFrom });
  const app = express();
  app.use(sessionMiddleware(manager));
  app.get("/read", (req, res) => {
    res.json(req.session.toJSON());
  });
  const recordError: ErrorRequestHandler = (error, _req, res, _next) => {
    errors.push(error);
    res.status(500).send("failed");
  };
  app.use(recordError);
  const url = await listen(app);
  return { store, errors, read: (cookie?: string) => fetch(`${url}/read`, { headers: cookie ? { cookie } : {} }) };
}

function legacyGet(store: LegacyStore, sid: string): Promise<LegacySessionRecord | null | undefined> {
  return new Promise((resolve, reject) => store.get(sid, (error, record) => (error ? reject(error) : resolve(record))));
}

function legacySet(store: session.Store, sid: string, record: session.SessionData): Promise<void> {
  return new Promise((resolve, reject) => store.set(sid, record, (error) => (error ? reject(error) : resolve())));
}

function signLegacy(sid: string, secret: string): string {
  const signature = createHmac("sha256", secret).update(sid).digest("base64").replace(/=+$/, "");
  return `connect.sid=${encodeURIComponent(`s:${sid}.${signature}`)}`;
}

/** Counts the calls a legacy store receives, so "untouched" can be asserted. */
function counting(store: LegacyStore): LegacyStore & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    get: (sid, callback) => (calls.push(`get ${sid}`), store.get(sid, callback)),
    destroy: (sid, callback) => (calls.push(`destroy ${sid}`), store.destroy(sid, callback)),
  };
}

async function expectMigrated(legacyStore: LegacyStore, legacy: { cookie: string; sid: string }, secret?: string[]) {
  const kit = await sessionkitApp(legacyStore, secret);
  const response = await kit.read(legacy.cookie);
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual({ user: "alice", cart: [1, 2] });
  const cookies = response.headers.getSetCookie();
  expect(cookies).toContain("connect.sid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly");
  const sid = cookies.find((c) => c.startsWith("sid="))!.split(";")[0]!;
  expect(sid).not.toContain(legacy.sid);
  expect(await legacyGet(legacyStore, legacy.sid)).toBeFalsy();
  expect(kit.store.count()).toBe(1);
  // The new cookie alone now carries the session; the legacy cookie is spent.
  expect(await (await kit.read(sid)).json()).toEqual({ user: "alice", cart: [1, 2] });
  const replay = await kit.read(legacy.cookie);
  expect(await replay.json()).toEqual({});
}

describe("migrating from express-session's MemoryStore", () => {
  it("carries the data over under a new id, removes the legacy record and cookie", async () => {
    const legacyStore = new session.MemoryStore();
    const legacy = await legacyLogin(legacyStore);
    expect(await legacyGet(legacyStore, legacy.sid)).toMatchObject({ user: "alice", cookie: expect.any(Object) });
    await expectMigrated(legacyStore, legacy);
  });

  it("accepts a cookie signed with an older secret of the list", async () => {
    const legacyStore = new session.MemoryStore();
    const legacy = await legacyLogin(legacyStore, OLD_SECRET);
    await expectMigrated(legacyStore, legacy);
  });

  const ignored: Array<[string, (sid: string) => string, string[]?]> = [
    ["forged (bad signature)", (sid) => `connect.sid=${encodeURIComponent(`s:${sid}.${"A".repeat(43)}`)}`],
    ["unsigned", (sid) => `connect.sid=${sid}`],
    ["signed with another secret", (sid) => signLegacy(sid, "somebody else's secret")],
    ["signed by us but for a secret list without it", (sid) => signLegacy(sid, NEW_SECRET), ["a different current secret"]],
  ];
  for (const [what, cookieFor, secret] of ignored) {
    it(`ignores a ${what} legacy cookie without asking the legacy store`, async () => {
      const legacyStore = new session.MemoryStore();
      const legacy = await legacyLogin(legacyStore);
      const spy = counting(legacyStore);
      const kit = await sessionkitApp(spy, secret);
      const response = await kit.read(cookieFor(legacy.sid));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({});
      expect(response.headers.getSetCookie()).toEqual([]);
      expect(spy.calls).toEqual([]);
      expect(await legacyGet(legacyStore, legacy.sid)).toMatchObject({ user: "alice" });
    });
  }

  it("ignores a validly signed cookie for an unknown legacy session", async () => {
    const spy = counting(new session.MemoryStore());
    const kit = await sessionkitApp(spy);
    const unknown = "N".repeat(32);
    const response = await kit.read(signLegacy(unknown, NEW_SECRET));
    expect(await response.json()).toEqual({});
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(spy.calls).toEqual([`get ${unknown}`]);
  });

  const notExpressSessionIds = ["../config", "short", "A".repeat(31), "A".repeat(33), `${"A".repeat(31)}/`, `${"A".repeat(31)}+`, `${"A".repeat(31)}=`];
  it("never hands the legacy store a signed id that is not express-session's format (32 base64url characters)", async () => {
    const spy = counting(new session.MemoryStore());
    const kit = await sessionkitApp(spy);
    for (const sid of notExpressSessionIds) {
      const response = await kit.read(signLegacy(sid, NEW_SECRET));
      expect(await response.json(), sid).toEqual({});
      expect(response.headers.getSetCookie(), sid).toEqual([]);
    }
    expect(spy.calls).toEqual([]);
  });

  it("migrates ids of another format when the app gives sidPattern, and only those", async () => {
    const legacyStore = new session.MemoryStore();
    const uuid = "0b7e4c43-86b0-4a53-9c6e-2f0f4d5f3a11"; // an app that had genid: () => randomUUID()
    legacyStore.set(uuid, { cookie: { expires: null }, user: "alice" });
    legacyStore.set("B".repeat(32), { cookie: { expires: null }, user: "bob" });
    const spy = counting(legacyStore);
    const kit = await sessionkitApp(spy, SECRETS, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(await (await kit.read(signLegacy(uuid, NEW_SECRET))).json()).toEqual({ user: "alice" });
    expect(await (await kit.read(signLegacy("B".repeat(32), NEW_SECRET))).json(), "the default format no longer applies").toEqual({});
    expect(spy.calls).toEqual([`get ${uuid}`, `destroy ${uuid}`]);
  });

  it("rejects a sidPattern that is not a RegExp", () => {
    const store = new session.MemoryStore();
    expect(() => fromExpressSession({ store, secret: SECRETS, sidPattern: "^.*$" as never })).toThrow(/option "sidPattern"/);
  });

  it("does no legacy work for requests without the legacy cookie", async () => {
    const spy = counting(new session.MemoryStore());
    const kit = await sessionkitApp(spy);
    const response = await kit.read("other=1");
    expect(response.status).toBe(200);
    expect(spy.calls).toEqual([]);
  });

  it("rejects a missing or empty secret at construction", () => {
    const store = new session.MemoryStore();
    expect(() => fromExpressSession({ store, secret: [] })).toThrow(/option "secret"/);
    expect(() => fromExpressSession({ store, secret: "" })).toThrow(TypeError);
  });
});

describe("migrating from session-file-store (a legacy store that builds file paths from ids)", () => {
  const SAMPLE_SECRET = "keyboard cat"; // express-session's README secret, which real apps ship

  async function fileStoreIn(root: string) {
    const dir = join(root, "sessions");
    const FileStore = sessionFileStore(session);
    return new FileStore({ path: dir, retries: 0, reapInterval: -1, logFn: () => {} });
  }

  it("carries a real session over and deletes its file", async () => {
    const root = await mkdtemp(join(tmpdir(), "sessionkit-sfs-"));
    try {
      const legacyStore = await fileStoreIn(root);
      const sid = randomBytes(24).toString("base64url"); // express-session's genid: uid-safe(24)
      await legacySet(legacyStore, sid, { cookie: { expires: null }, user: "alice", cart: [1, 2] });
      expect(await readdir(join(root, "sessions"))).toEqual([`${sid}.json`]);
      const kit = await sessionkitApp(legacyStore, SAMPLE_SECRET);
      // session-file-store adds its own __lastAccess to the record; it comes along as data.
      expect(await (await kit.read(signLegacy(sid, SAMPLE_SECRET))).json()).toMatchObject({ user: "alice", cart: [1, 2] });
      expect(await readdir(join(root, "sessions"))).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("a forged ../config id signed with the known secret reads no file and deletes none", async () => {
    const root = await mkdtemp(join(tmpdir(), "sessionkit-sfs-"));
    try {
      const legacyStore = await fileStoreIn(root);
      const config = JSON.stringify({ databasePassword: "hunter2" });
      await writeFile(join(root, "config.json"), config);
      const spy = counting(legacyStore);
      const kit = await sessionkitApp(spy, SAMPLE_SECRET);
      const response = await kit.read(signLegacy("../config", SAMPLE_SECRET));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({});
      expect(response.headers.getSetCookie()).toEqual([]);
      expect(spy.calls, "the legacy store is never asked").toEqual([]);
      expect(await readFile(join(root, "config.json"), "utf8")).toBe(config);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("duplicate legacy cookies (issue 31)", () => {
  it("two genuinely signed legacy sessions migrate neither: the planted one never lands in the victim's browser", async () => {
    const legacyStore = new session.MemoryStore();
    const victim = await legacyLogin(legacyStore);
    const attacker = await legacyLogin(legacyStore);
    const spy = counting(legacyStore);
    const kit = await sessionkitApp(spy);
    for (const header of [`${attacker.cookie}; ${victim.cookie}`, `${victim.cookie}; ${attacker.cookie}`]) {
      const response = await kit.read(header);
      expect(await response.json(), header).toEqual({});
      expect(response.headers.getSetCookie(), header).toEqual([]);
    }
    expect(spy.calls.filter((call) => call.startsWith("destroy"))).toEqual([]);
    expect(kit.store.count()).toBe(0);
    // Alone, the victim's own legacy cookie still migrates.
    expect(await (await kit.read(victim.cookie)).json()).toEqual({ user: "alice", cart: [1, 2] });
  });

  it("a junk legacy cookie beside the user's own is ignored: the user's session migrates", async () => {
    const legacyStore = new session.MemoryStore();
    const victim = await legacyLogin(legacyStore);
    const kit = await sessionkitApp(legacyStore);
    const junk = [`connect.sid=x`, signLegacy("B".repeat(32), NEW_SECRET), signLegacy("C".repeat(32), "not the secret")];
    const response = await kit.read(`${junk.join("; ")}; ${victim.cookie}`);
    expect(await response.json()).toEqual({ user: "alice", cart: [1, 2] });
    expect(await legacyGet(legacyStore, victim.sid)).toBeFalsy();
  });
});

describe("sidPattern is matched against the whole id, and never lets a path through (issue 31)", () => {
  const SAMPLE_SECRET = "keyboard cat";

  it("an unanchored /[A-Za-z0-9_-]{32}/ does not pass AAAA…/../../config to session-file-store", async () => {
    const root = await mkdtemp(join(tmpdir(), "sessionkit-sfs-"));
    try {
      await mkdir(join(root, "a"));
      const FileStore = sessionFileStore(session);
      const legacyStore = new FileStore({ path: join(root, "a", "sessions"), retries: 0, reapInterval: -1, logFn: () => {} });
      const config = JSON.stringify({ databasePassword: "hunter2" });
      await writeFile(join(root, "a", "config.json"), config);
      const spy = counting(legacyStore);
      const kit = await sessionkitApp(spy, SAMPLE_SECRET, /[A-Za-z0-9_-]{32}/);
      const response = await kit.read(signLegacy(`${"A".repeat(32)}/../../config`, SAMPLE_SECRET));
      expect(await response.json()).toEqual({});
      expect(spy.calls, "the legacy store is never asked").toEqual([]);
      expect(await readFile(join(root, "a", "config.json"), "utf8")).toBe(config);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("refuses path separators and .. whatever the pattern says, and still migrates a whole-match id", async () => {
    const legacyStore = new session.MemoryStore();
    for (const sid of ["ok-id", "a/b", "a\\b", "..", "a..b", "x\0y"]) legacyStore.set(sid, { cookie: { expires: null }, user: sid });
    const spy = counting(legacyStore);
    const kit = await sessionkitApp(spy, SECRETS, /^.*$/);
    for (const sid of ["a/b", "a\\b", "..", "a..b", "x\0y"]) {
      expect(await (await kit.read(signLegacy(sid, NEW_SECRET))).json(), sid).toEqual({});
    }
    expect(spy.calls).toEqual([]);
    expect(await (await kit.read(signLegacy("ok-id", NEW_SECRET))).json()).toEqual({ user: "ok-id" });
  });
});

describe("well-known sample secrets", () => {
  it("are accepted, with one process warning however many migrations use them", async () => {
    vi.resetModules(); // a fresh module graph: the once-per-process flag of earlier tests is not shared
    const fresh = await import("../src/adapters/express-session.js");
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      const store = new session.MemoryStore();
      fresh.fromExpressSession({ store, secret: SECRETS });
      expect(warn).not.toHaveBeenCalled();
      fresh.fromExpressSession({ store, secret: [NEW_SECRET, "keyboard cat"] });
      fresh.fromExpressSession({ store, secret: "keyboard cat" });
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(/"keyboard cat".*well-known sample secret/);
    } finally {
      warn.mockRestore();
    }
  });
});

describe("migrating from connect-redis on the real Redis", async () => {
  const available = await serverAvailable("Redis", "REDIS_URL", REDIS_URL);
  const client = createClient({ url: REDIS_URL });
  const prefix = `sessionkit-migration-${process.pid}-${Date.now()}:`;
  let legacyStore: RedisStore;

  beforeAll(async () => {
    if (!available) return;
    await client.connect();
    legacyStore = new RedisStore({ client, prefix });
  });
  afterAll(async () => {
    if (!available) return;
    await legacyStore.clear();
    await client.close();
  });

  it.skipIf(!available)("carries the data over and deletes the Redis key", async () => {
    const legacy = await legacyLogin(legacyStore);
    expect(await client.exists(`${prefix}${legacy.sid}`)).toBe(1);
    await expectMigrated(legacyStore, legacy);
    expect(await client.exists(`${prefix}${legacy.sid}`)).toBe(0);
  });

  it.skipIf(!available)("ignores a record whose cookie.expires has passed (store without TTL)", async () => {
    const noTtl = new RedisStore({ client, prefix, disableTTL: true });
    const past = new Date(Date.now() - 60_000).toISOString();
    const stale = "S".repeat(32);
    await client.set(`${prefix}${stale}`, JSON.stringify({ cookie: { expires: past, path: "/" }, user: "mallory" }));
    const kit = await sessionkitApp(noTtl);
    const response = await kit.read(signLegacy(stale, NEW_SECRET));
    expect(await response.json()).toEqual({});
    expect(response.headers.getSetCookie()).toEqual([]);
  });

  it.skipIf(!available)("turns a legacy store failure into a 5xx (SessionStoreError)", async () => {
    const legacy = await legacyLogin(legacyStore);
    const broken = createClient({ url: REDIS_URL });
    await broken.connect();
    broken.destroy(); // every later command rejects: a real client failure, not a mock
    const kit = await sessionkitApp(new RedisStore({ client: broken, prefix }));
    const response = await kit.read(legacy.cookie);
    expect(response.status).toBe(500);
    expect(kit.errors).toHaveLength(1);
    expect(kit.errors[0]).toMatchObject({ name: "SessionStoreError", code: "ERR_SESSION_STORE" });
    expect(await client.exists(`${prefix}${legacy.sid}`)).toBe(1);
  });
});

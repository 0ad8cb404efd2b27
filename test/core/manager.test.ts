import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import {
  MemoryStore,
  SessionEncodeError,
  SessionManager,
  SessionStoreError,
  SessionTooLargeError,
  hashToken,
} from "../../src/index.js";
import { FlakyStore, RecordingStore } from "../support/stores.js";
// The deprecated `provider:` option resolves through the registry, which `sessionkit/providers` installs.
import "../../src/providers/index.js";

const SECRET_A = "secret A: 7f3c9e21b84d6a05 c2e1f09d3b7a";
const SECRET_B = "secret B: 0a9d4e7c2f61b358 e4d07c9a1f2b";
const tokenOf = (cookies: string[]) => /^sid=([^;]*)/.exec(cookies[0] ?? "")?.[1] ?? "";

function clock(start = Date.UTC(2026, 0, 1)) {
  const c = { t: start, now: () => c.t, advance: (ms: number) => (c.t += ms) };
  return c;
}

async function loggedIn(sessions: SessionManager<Record<string, unknown>>, data: Record<string, unknown> = { user: "ada" }) {
  const session = await sessions.load();
  for (const [k, v] of Object.entries(data)) session.set(k, v);
  return tokenOf(await sessions.commit(session));
}

describe("load", () => {
  it("gives a fresh session with a new 43-character id when there is no token", async () => {
    const sessions = new SessionManager({ store: new MemoryStore() });
    const a = await sessions.load();
    const b = await sessions.load(null);
    expect(a.isNew).toBe(true);
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.id).not.toBe(b.id);
  });

  it("never adopts an unknown id the client made up (fixation defense)", async () => {
    const store = new RecordingStore();
    const sessions = new SessionManager({ store });
    const madeUp = "A".repeat(43);
    const session = await sessions.load(madeUp);
    expect(session.isNew).toBe(true);
    expect(session.id).not.toBe(madeUp);
    expect(store.calls).toEqual(["get"]);
  });

  it.each([
    ["empty", ""],
    ["too short", "abc"],
    ["bad characters", "A".repeat(42) + "!"],
    ["oversized (8 KiB)", "A".repeat(8192)],
    ["path traversal", "../../etc/passwd"],
  ])("answers a malformed token (%s) with a fresh session and no store call", async (_label, token) => {
    const store = new RecordingStore();
    const sessions = new SessionManager({ store });
    const session = await sessions.load(token);
    expect(session.isNew).toBe(true);
    expect(store.calls).toEqual([]);
  });

  it("keeps only SHA-256(token) in the store", async () => {
    const store = new MemoryStore();
    const sessions = new SessionManager<Record<string, unknown>>({ store });
    const token = await loggedIn(sessions);
    expect(store.get(token)).toBeNull();
    expect(store.get(hashToken(token))).not.toBeNull();
  });
});

describe("expiry (injected clock)", () => {
  it("expires after idleTimeout without use, and slides with use", async () => {
    const c = clock();
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore({ now: c.now }), now: c.now, idleTimeout: "30m", touchInterval: "1m" });
    const token = await loggedIn(sessions);
    c.advance(20 * 60_000);
    const used = await sessions.load(token);
    expect(used.get("user")).toBe("ada");
    // The store's expiry is moved (a touch), but the cookie lives to the absolute deadline: not re-sent.
    expect(await sessions.commit(used)).toEqual([]);
    c.advance(20 * 60_000); // 40 min after login, 20 after last use
    expect((await sessions.load(token)).get("user")).toBe("ada");
    c.advance(31 * 60_000);
    expect((await sessions.load(token)).isNew).toBe(true);
  });

  it("expires at absoluteTimeout even when used constantly", async () => {
    const c = clock();
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore({ now: c.now }), now: c.now, idleTimeout: "30m", absoluteTimeout: "2h" });
    const token = await loggedIn(sessions);
    for (let i = 0; i < 7; i++) {
      c.advance(15 * 60_000);
      const s = await sessions.load(token);
      expect(s.get("user")).toBe("ada");
      await sessions.commit(s);
    }
    c.advance(16 * 60_000); // 2h01m after creation
    expect((await sessions.load(token)).isNew).toBe(true);
  });

  it("expiresAt is min(last use + idle, created + absolute)", async () => {
    const c = clock();
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore({ now: c.now }), now: c.now, idleTimeout: "30m", absoluteTimeout: "1h" });
    const token = await loggedIn(sessions);
    c.advance(25 * 60_000);
    await sessions.commit(await sessions.load(token)); // used: the idle window slides
    c.advance(20 * 60_000);
    const s = await sessions.load(token);
    expect(s.expiresAt.getTime()).toBe(s.createdAt.getTime() + 60 * 60_000);
  });

  it("sets a cookie whose Max-Age runs to the absolute deadline, and re-sends it only for a new id", async () => {
    const c = clock();
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore({ now: c.now }), now: c.now, idleTimeout: "2h", absoluteTimeout: "8h" });
    const first = await sessions.load();
    first.set("n", 1);
    expect((await sessions.commit(first))[0]).toContain("; Max-Age=28800;");
    c.advance(60 * 60_000);
    const later = await sessions.load(first.id);
    later.set("n", 2);
    expect(await sessions.commit(later)).toEqual([]);
    await later.regenerate();
    expect((await sessions.commit(later))[0]).toContain("; Max-Age=25200;"); // same session, 1 h older
  });

  it("writes nothing for an unmodified session inside touchInterval", async () => {
    const store = new RecordingStore();
    const sessions = new SessionManager<Record<string, unknown>>({ store, touchInterval: "1m" });
    const token = await loggedIn(sessions);
    store.calls.length = 0;
    const s = await sessions.load(token);
    s.get("user");
    expect(await sessions.commit(s)).toEqual([]);
    expect(store.calls).toEqual(["get"]);
  });
});

describe("signed cookies", () => {
  it("rejects a token with a bad signature without a store call", async () => {
    const store = new RecordingStore();
    const sessions = new SessionManager<Record<string, unknown>>({ store, secrets: [SECRET_A] });
    const signed = await loggedIn(sessions);
    store.calls.length = 0;
    const forged = signed.slice(0, -2) + (signed.endsWith("AA") ? "BB" : "AA");
    expect((await sessions.load(forged)).isNew).toBe(true);
    expect((await sessions.load(signed.split(".")[0])).isNew).toBe(true);
    expect(store.calls).toEqual([]);
  });

  it("accepts a cookie signed with an older secret and re-signs it with the newest", async () => {
    const store = new MemoryStore();
    const before = new SessionManager<Record<string, unknown>>({ store, secrets: [SECRET_A] });
    const oldCookie = await loggedIn(before);
    const after = new SessionManager<Record<string, unknown>>({ store, secrets: [SECRET_B, SECRET_A] });
    const session = await after.load(oldCookie);
    expect(session.get("user")).toBe("ada");
    const resigned = tokenOf(await after.commit(session));
    expect(resigned.split(".")[0]).toBe(oldCookie.split(".")[0]);
    expect(resigned).not.toBe(oldCookie);
    const onlyNew = new SessionManager<Record<string, unknown>>({ store, secrets: [SECRET_B] });
    expect((await onlyNew.load(resigned)).get("user")).toBe("ada");
    expect((await onlyNew.load(oldCookie)).isNew).toBe(true);
  });
});

describe("regenerate and destroy", () => {
  it("regenerate gives a new id with the same data; the old id loads nothing", async () => {
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore() });
    const token = await loggedIn(sessions);
    const s = await sessions.load(token);
    await s.regenerate();
    expect((await sessions.load(token)).isNew).toBe(true);
    const next = tokenOf(await sessions.commit(s));
    expect(next).not.toBe(token);
    expect((await sessions.load(next)).get("user")).toBe("ada");
  });

  it("destroy empties the store and the next commit expires the cookie", async () => {
    const store = new MemoryStore();
    const sessions = new SessionManager<Record<string, unknown>>({ store });
    const token = await loggedIn(sessions);
    const s = await sessions.load(token);
    await s.destroy();
    expect(store.count()).toBe(0);
    const [cookie] = await sessions.commit(s);
    expect(cookie).toMatch(/^sid=; Max-Age=0;/);
    expect(s.destroyed).toBe(true);
  });

  it("a write after destroy starts a fresh session with a new id", async () => {
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore() });
    const token = await loggedIn(sessions);
    const s = await sessions.load(token);
    await s.destroy();
    s.set("flash", "logged out");
    const next = tokenOf(await sessions.commit(s));
    expect(next).not.toBe(token);
    const loaded = await sessions.load(next);
    expect(loaded.toJSON()).toEqual({ flash: "logged out" });
  });
});

describe("session data", () => {
  it("supports get/set/has/delete/pop/clear/keys/toJSON", async () => {
    const sessions = new SessionManager<{ a?: number; b?: string; flash?: string }>({ store: new MemoryStore() });
    const s = await sessions.load();
    s.set("a", 1).set("b", "x").set("flash", "hi");
    expect(s.has("a")).toBe(true);
    expect(s.pop("flash")).toBe("hi");
    expect(s.has("flash")).toBe(false);
    expect(s.keys().sort()).toEqual(["a", "b"]);
    expect(s.delete("b")).toBe(true);
    expect(s.toJSON()).toEqual({ a: 1 });
    s.clear();
    expect(s.keys()).toEqual([]);
    expect(s.modified).toBe(true);
  });

  it("round-trips Date and nested JSON", async () => {
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore() });
    const when = new Date("2026-11-22T10:00:00.123Z");
    const token = await loggedIn(sessions, { when, nested: { list: [1, "two", null, { three: true }], at: when } });
    const s = await sessions.load(token);
    expect(s.get("when")).toEqual(when);
    expect(s.get("nested")).toEqual({ list: [1, "two", null, { three: true }], at: when });
  });

  it.each([
    ["a cycle", () => { const o: Record<string, unknown> = {}; o.self = o; return o; }, /cycle/],
    ["a function", () => ({ f: () => 1 }), /function/],
    ["a BigInt", () => 10n, /BigInt/],
    ["a Map", () => new Map([[1, 2]]), /Map/],
  ])("rejects %s at commit with SessionEncodeError naming the key", async (_label, make, reason) => {
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore() });
    const s = await sessions.load();
    s.set("bad", make());
    const error = await sessions.commit(s).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionEncodeError);
    expect(error).toMatchObject({ code: "ERR_SESSION_ENCODE", key: "bad" });
    expect((error as Error).message).toMatch(reason);
  });

  it("keeps __proto__ and constructor keys as plain data and pollutes nothing", async () => {
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore() });
    const hostile = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}');
    const token = await loggedIn(sessions, JSON.parse('{"__proto__": {"polluted": true}, "payload": null}'));
    const stored = await sessions.load(token);
    stored.set("payload", hostile);
    await sessions.commit(stored);
    const s = await sessions.load(token);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty("polluted");
    expect(Object.keys(s.toJSON()).sort()).toEqual(["__proto__", "payload"]);
    expect(Object.getPrototypeOf(s.toJSON())).toBe(Object.prototype);
  });

  it("fails commit with SessionTooLargeError over maxSize", async () => {
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore(), maxSize: 1024 });
    const s = await sessions.load();
    s.set("big", "x".repeat(2000));
    await expect(sessions.commit(s)).rejects.toBeInstanceOf(SessionTooLargeError);
    await expect(sessions.commit(s)).rejects.toMatchObject({ code: "ERR_SESSION_TOO_LARGE", limit: 1024 });
  });
});

describe("store failures", () => {
  it("rejects load and commit with SessionStoreError carrying the cause", async () => {
    const store = new FlakyStore();
    const sessions = new SessionManager<Record<string, unknown>>({ store });
    const token = await loggedIn(sessions);
    store.mode = "fail";
    const error = await sessions.load(token).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect(error).toMatchObject({ code: "ERR_SESSION_STORE" });
    expect((error as Error).cause).toBeInstanceOf(Error);
    store.mode = "ok";
    expect((await sessions.load(token)).get("user")).toBe("ada");
  });

  it("gives up on a store that does not answer within storeTimeout", async () => {
    const store = new FlakyStore();
    const sessions = new SessionManager<Record<string, unknown>>({ store, storeTimeout: 50 });
    store.mode = "hang";
    const started = Date.now();
    const error = await sessions.load("A".repeat(43)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as Error).message).toMatch(/did not answer within 50 ms/);
    expect((error as Error).cause).toMatchObject({ name: "TimeoutError" });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("aborts the signal of a store call that timed out, so the store can drop it", async () => {
    let seen: AbortSignal | undefined;
    const store = new MemoryStore();
    const hanging = Object.assign(Object.create(store) as MemoryStore, {
      get: (_key: string, options?: { signal?: AbortSignal }) => {
        seen = options?.signal;
        return new Promise<null>(() => {});
      },
    });
    const sessions = new SessionManager({ store: hanging, storeTimeout: 30 });
    await expect(sessions.load("A".repeat(43))).rejects.toBeInstanceOf(SessionStoreError);
    expect(seen?.aborted).toBe(true);
  });
});

describe("options", () => {
  const store = new MemoryStore();
  it.each([
    [{ store, cookie: { name: "__Host-sid", secure: "auto" as const } }, /__Host-/],
    [{ store, cookie: { name: "__Host-sid", secure: true, path: "/app" } }, /__Host-/],
    [{ store, cookie: { name: "__Host-sid", secure: true, domain: "example.com" } }, /__Host-/],
    [{ store, cookie: { name: "bad name" } }, /cookie\.name/],
    [{ store, secrets: ["short"] }, /at least 32 characters/],
    [{ store, secrets: [] }, /secrets/],
    [{ store, idleTimeout: "soon" }, /idleTimeout.*"30m"/],
    [{ store, absoluteTimeout: -1 }, /absoluteTimeout/],
    [{ store, header: "bad header" }, /header/],
    [{ store, cookie: { sameSite: "none" as const, secure: false } }, /sameSite/],
    [{}, /store/],
    [{ store, migrateFrom: { cookieName: "sid", take: async () => null, expireCookie: () => "" } }, /migrateFrom/],
  ])("rejects a bad option with a TypeError naming it (%#)", (options, message) => {
    expect(() => new SessionManager(options)).toThrow(TypeError);
    expect(() => new SessionManager(options)).toThrow(message);
  });

  it("accepts durations as milliseconds or strings", async () => {
    const c = clock();
    const sessions = new SessionManager({ store: new MemoryStore(), now: c.now, idleTimeout: 90_000, absoluteTimeout: "7d" });
    const s = await sessions.load();
    expect(s.expiresAt.getTime() - c.t).toBe(90_000);
  });

  it("reads and writes the token in a header instead of a cookie", async () => {
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore(), header: "X-Session-Token" });
    const s = await sessions.load();
    s.set("user", "ada");
    const headers = await sessions.commitHeaders(s);
    expect(headers).toEqual([["x-session-token", s.id]]);
    expect(await sessions.commit(s)).toEqual([]);
    expect((await sessions.load(s.id)).get("user")).toBe("ada");
  });
});

describe("secure: auto", () => {
  it("start(req, res) marks the cookie Secure for a request that came over TLS, and not otherwise", async () => {
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore() });
    for (const encrypted of [true, false]) {
      const req = new IncomingMessage(Object.assign(new Socket(), { encrypted }));
      const res = new ServerResponse(req);
      const session = await sessions.start(req, res);
      session.set("n", 1);
      const [cookie] = await sessions.commit(session);
      expect(cookie!.includes("; Secure"), `encrypted: ${encrypted}`).toBe(encrypted);
    }
  });

  it("asks a secure function only when a cookie is made, and at most once", async () => {
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore() });
    let asked = 0;
    const secure = () => (asked++, true);
    const token = await loggedIn(sessions);
    const read = await sessions.load(token, { secure });
    expect(await sessions.commit(read)).toEqual([]);
    expect(asked).toBe(0); // a read that sends no cookie never reads the request's TLS flag

    const fresh = await sessions.load(undefined, { secure });
    fresh.set("n", 1);
    const [cookie] = await sessions.commit(fresh);
    fresh.regenerate();
    const [rotated] = await sessions.commit(fresh);
    expect([cookie, rotated].every((line) => line!.includes("; Secure"))).toBe(true);
    expect(asked).toBe(1);
  });
});

describe("count, exists, gc, close", () => {
  it("counts live sessions, answers exists, and gc removes expired ones", async () => {
    const c = clock();
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore({ now: c.now }), now: c.now, idleTimeout: "10m" });
    const first = await loggedIn(sessions);
    c.advance(5 * 60_000);
    await loggedIn(sessions);
    expect(await sessions.count()).toBe(2);
    expect(await sessions.exists(first)).toBe(true);
    expect(await sessions.exists("garbage")).toBe(false);
    c.advance(6 * 60_000);
    expect(await sessions.count()).toBe(1);
    expect(await sessions.gc()).toBe(1);
    expect(await sessions.exists(first)).toBe(false);
    await sessions.close();
  });

  it("creates a store from a registered provider name and closes it", async () => {
    const sessions = new SessionManager<Record<string, unknown>>({ provider: "memory" });
    const token = await loggedIn(sessions);
    expect((await sessions.load(token)).get("user")).toBe("ada");
    await sessions.close();
  });
});

import { inspect } from "node:util";
import { describe, expect, it, vi } from "vitest";
import type { SessionStore } from "../../src/index.js";
import { CookieStore } from "../../src/stores/cookie.js";
import { MemoryStore, SessionError, SessionManager, SessionStoreError, SessionUnsupportedError, hashToken } from "../../src/index.js";
import { GatedStore } from "../../src/testing/index.js";
import { RecordingStore } from "../support/stores.js";

const tokenOf = (cookies: string[]) => /^sid=([^;]*)/.exec(cookies[0] ?? "")?.[1] ?? "";

async function stored(sessions: SessionManager<Record<string, unknown>>, data: Record<string, unknown> = { user: "ada" }) {
  const session = await sessions.load();
  for (const [k, v] of Object.entries(data)) session.set(k, v);
  return tokenOf(await sessions.commit(session));
}

describe("late changes are loud", () => {
  it("set, delete, clear, pop, regenerate, destroy and signIn throw ERR_SESSION_COMMITTED once the commit started", async () => {
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore() });
    const session = await sessions.load(await stored(sessions));
    sessions.prepareCommit(session); // what an adapter does when the headers go out
    const committed = { code: "ERR_SESSION_COMMITTED" };
    expect(() => session.set("late", 1)).toThrow(expect.objectContaining(committed));
    expect(() => session.delete("user")).toThrow(SessionError);
    expect(() => session.clear()).toThrow(SessionError);
    expect(() => session.pop("user")).toThrow(SessionError);
    await expect(session.regenerate()).rejects.toMatchObject(committed);
    await expect(session.destroy()).rejects.toMatchObject(committed);
    await expect(session.signIn("ada")).rejects.toMatchObject(committed);
    expect(session.get("user")).toBe("ada"); // reads stay allowed
  });

  it("commit() waits for its write, so the session may change and commit again afterwards", async () => {
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore() });
    const token = await stored(sessions);
    const session = await sessions.load(token);
    session.set("a", 1);
    await sessions.commit(session);
    session.set("b", 2);
    await sessions.commit(session);
    expect((await sessions.load(token)).toJSON()).toEqual({ user: "ada", a: 1, b: 2 });
  });
});

describe("a timed-out write is honest", () => {
  it("rejects with SessionStoreError whose outcome is 'unknown'", async () => {
    const gated = new GatedStore(new MemoryStore());
    const sessions = new SessionManager<Record<string, unknown>>({ store: gated, storeTimeout: 50 });
    const token = await stored(sessions);
    const session = await sessions.load(token);
    session.set("n", 1);
    const gate = gated.hold("set");
    const error = await sessions.commit(session).catch((e: unknown) => e);
    gate.release();
    expect(error).toBeInstanceOf(SessionStoreError);
    expect(error).toMatchObject({ code: "ERR_SESSION_STORE", outcome: "unknown" });
  });

  it("a failed read has no unknown outcome", async () => {
    const store: SessionStore = { get: () => Promise.reject(new Error("down")), set: () => true, destroy: () => {} };
    const sessions = new SessionManager({ store });
    const error = await sessions.load("x".repeat(43)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_SESSION_STORE", outcome: undefined });
  });
});

describe("idle expiry", () => {
  it("counts from the commit, not from the start of a long request", async () => {
    let now = Date.UTC(2026, 0, 1);
    const store = new MemoryStore({ now: () => now });
    const sessions = new SessionManager<Record<string, unknown>>({ store, idleTimeout: "10m", now: () => now });
    const token = await stored(sessions);
    const session = await sessions.load(token);
    now += 8 * 60_000; // a long request: counting from its start would leave 2 minutes
    session.set("done", true);
    await sessions.commit(session);
    expect(store.get(hashToken(token))?.expiresAt).toBe(now + 10 * 60_000);
    expect(session.superseded).toBe(false);
  });

  it("a request that outlives the idle timeout learns the session expired; nothing is written", async () => {
    let now = Date.UTC(2026, 0, 1);
    const store = new MemoryStore({ now: () => now });
    const sessions = new SessionManager<Record<string, unknown>>({ store, idleTimeout: "10m", now: () => now });
    const token = await stored(sessions);
    const session = await sessions.load(token);
    now += 15 * 60_000;
    session.set("done", true);
    expect(await sessions.commit(session)).toEqual([]);
    expect(session.superseded).toBe(true);
    expect(store.count()).toBe(0);
  });
});

describe("users", () => {
  it("userId must be a non-empty string of at most 256 characters", async () => {
    const sessions = new SessionManager({ store: new MemoryStore() });
    const session = await sessions.load();
    await expect(session.signIn("")).rejects.toBeInstanceOf(TypeError);
    await expect(session.signIn("x".repeat(257))).rejects.toBeInstanceOf(TypeError);
    await expect(session.signIn(42 as unknown as string)).rejects.toBeInstanceOf(TypeError);
    await expect(sessions.listSessions("")).rejects.toBeInstanceOf(TypeError);
  });

  it("a store without listByOwner makes the per-user calls throw SessionUnsupportedError naming it", async () => {
    const inner = new MemoryStore();
    const plain: SessionStore = { get: (k) => inner.get(k), set: (k, w) => inner.set(k, w), destroy: (k) => inner.destroy(k) };
    const sessions = new SessionManager({ store: plain });
    await expect(sessions.listSessions("ada")).rejects.toThrow(/listByOwner/);
    await expect(sessions.revokeUser("ada")).rejects.toBeInstanceOf(SessionUnsupportedError);
    const session = await sessions.load();
    await session.signIn("ada"); // signing in still works: the index is optional
    const token = tokenOf(await sessions.commit(session));
    expect((await sessions.load(token)).userId).toBe("ada");
  });

  it("cookie sessions sign in and keep their user; listing them is unsupported", async () => {
    const sessions = new SessionManager({ store: new CookieStore({ secrets: ["k9#Lp2@vX7!qR4$wZ1^mN8&bT3*yH6(j"] }) });
    const session = await sessions.load();
    await session.signIn("ada");
    const token = tokenOf(await sessions.commit(session));
    expect((await sessions.load(token)).userId).toBe("ada");
    await expect(sessions.listSessions("ada")).rejects.toBeInstanceOf(SessionUnsupportedError);
  });

  it("cookie sessions: revokeUser/revokeSession need a revocations store, then end sessions at their next load", async () => {
    let now = Date.UTC(2026, 0, 1);
    const secrets = ["k9#Lp2@vX7!qR4$wZ1^mN8&bT3*yH6(j"];
    const revocations = new MemoryStore({ now: () => now });
    const sessions = new SessionManager({ store: new CookieStore({ secrets }), revocations, now: () => now });
    const device = async () => {
      const session = await sessions.load();
      await session.signIn("ada");
      now += 1000;
      return tokenOf(await sessions.commit(session));
    };
    const [phone, laptop, tablet] = [await device(), await device(), await device()];
    const keep = await sessions.load(phone);
    await sessions.revokeUser("ada", { except: keep });
    expect((await sessions.load(phone)).userId).toBe("ada");
    expect((await sessions.load(laptop)).isNew).toBe(true);
    expect((await sessions.load(tablet)).isNew).toBe(true);
    now += 1000;
    const later = await device(); // a sign-in after the cut-off is unaffected
    expect((await sessions.load(later)).userId).toBe("ada");
    expect(await sessions.revokeSession("ada", keep.handle)).toBe(true);
    expect((await sessions.load(phone)).isNew).toBe(true);
    expect((await sessions.load(later)).userId).toBe("ada");

    const without = new SessionManager({ store: new CookieStore({ secrets }) });
    await expect(without.revokeUser("ada")).rejects.toThrow(/option "revocations"/);
  });

  it("cookie sessions on two hosts with skewed clocks: a revocation compares no clocks", async () => {
    const secrets = ["k9#Lp2@vX7!qR4$wZ1^mN8&bT3*yH6(j"];
    const revocations = new MemoryStore();
    const base = Date.now();
    const host = (skew: number) => new SessionManager({ store: new CookieStore({ secrets }), revocations, now: () => base + skew });
    const ahead = host(5_000); // signs in with a clock 5 s ahead
    const behind = host(-30_000); // revokes with a clock 30 s behind
    const signIn = async (sessions: SessionManager) => {
      const session = await sessions.load();
      await session.signIn("ada");
      return tokenOf(await sessions.commit(session));
    };
    const early = await signIn(ahead);
    await behind.revokeUser("ada");
    expect((await ahead.load(early)).isNew, "a session signed in before the revoke is dead on every host").toBe(true);
    expect((await behind.load(early)).isNew).toBe(true);
    const after = await signIn(behind); // a sign-in made after the revoke on the slow host
    expect((await ahead.load(after)).userId, "a sign-in after the revoke is alive").toBe("ada");
  });

  it("cookie sessions: revokeSession then a regenerate in flight does not revive the session; except survives its own regenerate", async () => {
    const secrets = ["k9#Lp2@vX7!qR4$wZ1^mN8&bT3*yH6(j"];
    const sessions = new SessionManager({ store: new CookieStore({ secrets }), revocations: new MemoryStore() });
    const signIn = async () => {
      const session = await sessions.load();
      await session.signIn("ada");
      return tokenOf(await sessions.commit(session));
    };
    const [revoked, kept] = [await signIn(), await signIn()];
    const inFlight = await sessions.load(revoked);
    expect(await sessions.revokeSession("ada", inFlight.handle)).toBe(true);
    await inFlight.regenerate();
    const rotated = tokenOf(await sessions.commit(inFlight));
    expect((await sessions.load(rotated)).isNew, "the regenerated cookie is still the revoked session").toBe(true);
    const caller = await sessions.load(kept);
    await sessions.revokeUser("ada", { except: caller });
    await caller.regenerate();
    const callerRotated = tokenOf(await sessions.commit(caller));
    expect((await sessions.load(callerRotated)).userId, "except follows its session across regenerate").toBe("ada");
  });

  it("cookie sessions: 6,000 revokeSession calls with junk handles keep the revocation record small", async () => {
    const revocations = new MemoryStore();
    const sessions = new SessionManager({ store: new CookieStore({ secrets: ["k9#Lp2@vX7!qR4$wZ1^mN8&bT3*yH6(j"] }), revocations });
    for (let i = 0; i < 6000; i++) await sessions.revokeSession("ada", `junk-handle-${i}-${"x".repeat(10)}`);
    const gated = new GatedStore(revocations);
    const reader = new SessionManager({ store: new CookieStore({ secrets: ["k9#Lp2@vX7!qR4$wZ1^mN8&bT3*yH6(j"] }), revocations: gated });
    const session = await reader.load();
    await session.signIn("ada"); // reads the fence record
    const key = gated.calls.find((call) => call.startsWith("get fence_"))!.slice(4);
    const record = await revocations.get(key);
    expect(record!.data.length).toBeLessThan(4000);
  });

  it("a sign-in whose cap listing fails after the record was written rejects with outcome unknown", async () => {
    const store = new MemoryStore();
    let failListing = false;
    const failing = new GatedStore(store);
    const listByOwner = failing.listByOwner!;
    failing.listByOwner = (owner, o) => (failListing ? Promise.reject(new Error("connection lost")) : listByOwner(owner, o));
    const sessions = new SessionManager({ store: failing, maxSessionsPerUser: 2 });
    const session = await sessions.load();
    session.set("a", 1);
    const token = tokenOf(await sessions.commit(session));
    const again = await sessions.load(token);
    failListing = true;
    const error: unknown = await again.signIn("ada").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as SessionStoreError).outcome).toBe("unknown");
    failListing = false;
    expect((await sessions.listSessions("ada")).length, "the sign-in was in fact stored").toBe(1);
  });

  it("an onEvent listener that throws never breaks the request; it becomes a warning", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    const sessions = new SessionManager({ store: new MemoryStore(), onEvent: () => { throw new Error("audit log down"); } });
    const session = await sessions.load();
    await session.signIn("ada");
    await expect(sessions.commit(session)).resolves.toHaveLength(1);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("audit log down"), "SessionkitWarning");
    warn.mockRestore();
  });
});

describe("round trips of a signed-in session", () => {
  it("1 to load, 1 to commit a change, 0 for an unmodified one inside touchInterval — as for anonymous ones", async () => {
    const store = new RecordingStore();
    const sessions = new SessionManager<Record<string, unknown>>({ store });
    const session = await sessions.load();
    await session.signIn("ada");
    const token = tokenOf(await sessions.commit(session));
    store.calls.length = 0;
    const reading = await sessions.load(token);
    expect(reading.userId).toBe("ada");
    await sessions.commit(reading);
    expect(store.calls).toEqual(["get"]);
    store.calls.length = 0;
    const writing = await sessions.load(token);
    writing.set("n", 1);
    await sessions.commit(writing);
    expect(store.calls).toEqual(["get", "set"]);
  });
});

describe("logs never show the token", () => {
  it("util.inspect, String() and console.log show keys and handle only", async () => {
    const sessions = new SessionManager({ store: new MemoryStore() });
    const session = await sessions.load();
    session.set("user" as never, "ada" as never);
    const token = tokenOf(await sessions.commit(session));
    for (const text of [inspect(session), String(session), inspect(session, { showHidden: true, depth: 5 }), inspect(sessions, { showHidden: true, depth: 5 })]) {
      expect(text).not.toContain(token);
      expect(text).not.toContain(hashToken(token));
    }
    expect(inspect(session)).toContain(session.handle);
    expect(inspect(session)).toContain('"user"');
  });
});

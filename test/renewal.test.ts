import { describe, expect, it } from "vitest";
import { MemoryStore, SessionManager, hashToken } from "../src/index.js";
import { CookieStore } from "../src/stores/cookie.js";
import type { SessionEvent, SessionManagerOptions } from "../src/index.js";
import { GatedStore } from "../src/testing/index.js";

const USER = "ada@example.com";
const SECRET = "renewal-test-secret-0123456789-abcdefghijklmnop";
const tokenOf = (cookies: string[]) => /^sid=([^;]*)/.exec(cookies[0] ?? "")?.[1];

/** A memory store and a manager on one clock the test moves. */
function setup(options: Partial<SessionManagerOptions> = {}) {
  const clock = { now: 1_700_000_000_000 };
  const now = () => clock.now;
  const store = new GatedStore(new MemoryStore({ now }));
  const events: SessionEvent[] = [];
  const sessions = new SessionManager<Record<string, unknown>>({
    store,
    now,
    gcInterval: 0,
    renewInterval: "15m",
    renewGrace: "30s",
    onEvent: (event) => events.push(event),
    ...options,
  });
  const signedIn = async () => {
    const session = await sessions.load();
    session.set("n", 0);
    await session.signIn(USER, { method: "password" });
    return tokenOf(await sessions.commit(session))!;
  };
  /** Loads with `token`, touches nothing, commits: the cookie it sends, if any. */
  const visit = async (token: string) => tokenOf(await sessions.commit(await sessions.load(token)));
  const advance = (ms: number) => (clock.now += ms);
  return { clock, store, sessions, events, signedIn, visit, advance };
}

const MINUTE = 60_000;

describe("renewal with a grace window", () => {
  it("renews on the first committed response after renewInterval; the previous id loads the current session for renewGrace", async () => {
    const { sessions, store, signedIn, visit, advance } = setup();
    const first = await signedIn();
    advance(14 * MINUTE);
    expect(await visit(first), "not due yet: no cookie").toBeUndefined();
    advance(2 * MINUTE);
    const second = await visit(first);
    expect(second).toBeDefined();
    expect(second).not.toBe(first);

    store.calls.length = 0;
    const late = await sessions.load(first); // a request in flight with the previous id
    expect(store.calls, "one extra read, for such a request only").toEqual([`get ${hashToken(first)}`, `get ${hashToken(second!)}`]);
    expect(late.userId).toBe(USER);
    late.set("late", true);
    expect(tokenOf(await sessions.commit(late)), "its response carries the current cookie").toBe(second);
    expect((await sessions.load(second)).get("late"), "its write landed on the current record").toBe(true);
    expect(await sessions.listSessions(USER)).toHaveLength(1);

    advance(31_000);
    expect((await sessions.load(first)).isNew, "after the grace the previous id is dead").toBe(true);
    expect((await sessions.load(second)).userId).toBe(USER);
  });

  it("ordinary requests keep their round trips; only the renewing one writes", async () => {
    const { sessions, store, signedIn, advance } = setup();
    const token = await signedIn();
    advance(10_000);
    store.calls.length = 0;
    await sessions.commit(await sessions.load(token));
    expect(store.calls, "an unmodified request inside touchInterval: one read, no write").toEqual([`get ${hashToken(token)}`]);
    store.calls.length = 0;
    const changed = await sessions.load(token);
    changed.set("x", 1);
    await sessions.commit(changed);
    expect(store.calls).toEqual([`get ${hashToken(token)}`, `set ${hashToken(token)}`]);
    advance(16 * MINUTE);
    store.calls.length = 0;
    const renewing = await sessions.load(token);
    const renewed = tokenOf(await sessions.commit(renewing))!;
    const calls = store.calls.map((call) => call.replace(/^get fence_.*/, "get fence"));
    expect(calls, "the load, the new record (pending), the forward in place of the old one, the fence, the touch that confirms the new record").toEqual([
      `get ${hashToken(token)}`,
      `set ${hashToken(renewed)}`,
      `set ${hashToken(token)}`,
      "get fence",
      `touch ${hashToken(renewed)}`,
    ]);
    store.calls.length = 0;
    const leaving = await sessions.load(renewed);
    await leaving.destroy();
    await sessions.commit(leaving);
    expect(store.calls, "a logout in the grace window: one more delete, the forward").toEqual([
      `get ${hashToken(renewed)}`,
      `set ${hashToken(renewed)}`,
      `destroy ${hashToken(renewed)}`,
      `destroy ${hashToken(token)}`,
    ]);
  });

  it("20 requests in flight across a renewal: all succeed, no data lost, one live session", async () => {
    const { sessions, signedIn, advance } = setup();
    const first = await signedIn();
    advance(16 * MINUTE);
    const inFlight = await Promise.all(Array.from({ length: 20 }, () => sessions.load(first)));
    const renewing = await sessions.load(first);
    renewing.set("renewer", true);
    const current = tokenOf(await sessions.commit(renewing))!;
    expect(current).not.toBe(first);
    const cookies = await Promise.all(
      inFlight.map(async (session, i) => {
        session.set(`key${i}`, i);
        return tokenOf(await sessions.commit(session));
      }),
    );
    for (const [i, session] of inFlight.entries()) expect(session.superseded, `request ${i} succeeded`).toBe(false);
    expect(new Set(cookies), "every response carries the current cookie").toEqual(new Set([current]));
    const final = await sessions.load(current);
    for (let i = 0; i < 20; i++) expect(final.get(`key${i}`), `key${i} persisted`).toBe(i);
    expect(final.get("renewer")).toBe(true);
    expect(await sessions.listSessions(USER), "one session listed").toHaveLength(1);
    expect((await sessions.load(first)).get("key3"), "the previous id still loads the same session").toBe(3);
  });

  it("a request that is not renewing itself (a manager without the option, mid-deploy) writes to the current record", async () => {
    const { clock, store, sessions, signedIn, visit, advance } = setup();
    const first = await signedIn();
    const plain = new SessionManager<Record<string, unknown>>({ store, now: () => clock.now, gcInterval: 0 });
    advance(16 * MINUTE);
    const stale = await plain.load(first);
    const second = (await visit(first))!;
    stale.set("from-plain", true);
    expect(tokenOf(await plain.commit(stale)), "its response carries the current cookie").toBe(second);
    expect(stale.superseded).toBe(false);
    expect((await sessions.load(second)).get("from-plain")).toBe(true);
  });

  it("the id before the previous one is dead: a forward is never followed twice", async () => {
    const { sessions, signedIn, visit, advance } = setup({ renewInterval: "1m", renewGrace: "5m" });
    const first = await signedIn();
    advance(61_000);
    const second = (await visit(first))!;
    advance(61_000);
    const third = (await visit(second))!;
    expect(new Set([first, second, third]).size).toBe(3);
    expect((await sessions.load(second)).userId, "the previous id loads").toBe(USER);
    expect((await sessions.load(first)).isNew, "the one before is dead, within its own grace too").toBe(true);
  });

  it("a request that loaded two renewals ago loses its write rather than follow a chain", async () => {
    const { sessions, signedIn, visit, advance } = setup({ renewInterval: "1m", renewGrace: "5m" });
    const first = await signedIn();
    const stale = await sessions.load(first);
    advance(61_000);
    const second = (await visit(first))!;
    advance(61_000);
    await visit(second);
    stale.set("stale", true);
    expect(await sessions.commit(stale)).toEqual([]);
    expect(stale.superseded).toBe(true);
  });

  it("a logout with either id ends both, and deletes the forward", async () => {
    for (const logoutWith of ["previous", "current"] as const) {
      const { sessions, store, signedIn, visit, advance } = setup();
      const first = await signedIn();
      advance(16 * MINUTE);
      const second = (await visit(first))!;
      const session = await sessions.load(logoutWith === "previous" ? first : second);
      await session.destroy();
      await sessions.commit(session);
      expect((await sessions.load(first)).isNew, `${logoutWith}: previous id dead`).toBe(true);
      expect((await sessions.load(second)).isNew, `${logoutWith}: current id dead`).toBe(true);
      expect(await store.inner.get(hashToken(first)), `${logoutWith}: no forward left`).toBeNull();
      expect(await sessions.listSessions(USER)).toEqual([]);
    }
  });

  it("an anonymous session loaded before its renewal logs out both ids", async () => {
    const { sessions, visit, advance } = setup();
    const created = await sessions.load();
    created.set("cart", 1);
    const first = tokenOf(await sessions.commit(created))!;
    advance(16 * MINUTE);
    const stale = await sessions.load(first);
    const second = (await visit(first))!;
    await stale.destroy();
    await sessions.commit(stale);
    expect((await sessions.load(second)).isNew).toBe(true);
    expect((await sessions.load(first)).isNew).toBe(true);
  });

  it("revokeUser and revokeSession during the grace window end both ids", async () => {
    for (const revoke of ["user", "session"] as const) {
      const { sessions, store, signedIn, visit, advance } = setup();
      const first = await signedIn();
      advance(16 * MINUTE);
      const second = (await visit(first))!;
      const [listed] = await sessions.listSessions(USER);
      if (revoke === "user") expect(await sessions.revokeUser(USER)).toBe(1);
      else expect(await sessions.revokeSession(USER, listed!.handle)).toBe(true);
      expect((await sessions.load(first)).isNew, `${revoke}: previous id dead`).toBe(true);
      expect((await sessions.load(second)).isNew, `${revoke}: current id dead`).toBe(true);
      expect(await store.inner.get(hashToken(first)), `${revoke}: the forward is deleted too`).toBeNull();
    }
  });

  it("keeps the handle across renewals and reports them as regenerated", async () => {
    const { sessions, events, signedIn, visit, advance } = setup();
    const first = await signedIn();
    const handle = (await sessions.load(first)).handle;
    advance(16 * MINUTE);
    const second = (await visit(first))!;
    expect((await sessions.load(second)).handle).toBe(handle);
    expect(events.filter((event) => event.type === "regenerated").map((event) => event.handle)).toEqual([handle]);
  });

  it("a renewing request whose data cannot be encoded throws at commit, and the session keeps its id", async () => {
    const { sessions, signedIn, advance } = setup({ maxSize: 2048 });
    const token = await signedIn();
    advance(16 * MINUTE);
    const session = await sessions.load(token);
    session.set("big", "x".repeat(4096));
    expect(() => sessions.prepareCommit(session)).toThrow(/2048/);
    expect((await sessions.load(token)).userId, "nothing was renewed").toBe(USER);
  });

  it("the forward holds no usable token and belongs to no user", async () => {
    const { store, signedIn, visit, advance } = setup();
    const first = await signedIn();
    advance(16 * MINUTE);
    const second = (await visit(first))!;
    const forward = (await store.inner.get(hashToken(first)))!;
    expect(forward.data.startsWith(">")).toBe(true);
    expect(forward.data).not.toContain(second);
    expect(forward.data).not.toContain(hashToken(second));
    expect(forward.owner).toBeUndefined();
  });

  it("works in header mode and with signed tokens", async () => {
    const secrets = ["renewal-signing-secret-9f8e7d6c5b4a3928171605f4e3d2c1b0"];
    const { sessions, advance } = setup({ header: "x-session-token", secrets });
    const created = await sessions.load();
    created.set("a", 1);
    const header = (headers: Array<[string, string]>) => headers.find(([name]) => name === "x-session-token")?.[1];
    const first = header(await sessions.commitHeaders(created))!;
    advance(16 * MINUTE);
    const second = header(await sessions.commitHeaders(await sessions.load(first)))!;
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    const late = await sessions.load(first);
    expect(late.get("a")).toBe(1);
    expect(header(await sessions.commitHeaders(late)), "the previous signed token gets the current one").toBe(second);
  });

  it("is refused with a cookie store, and renewGrace alone is refused", () => {
    expect(() => new SessionManager({ store: new CookieStore({ secrets: [SECRET] }), renewInterval: "15m" })).toThrow(/renewInterval.*server-side store/);
    expect(() => new SessionManager({ store: new MemoryStore(), renewGrace: "30s" })).toThrow(/renewGrace.*renewInterval/);
  });

  it("a manager without renewInterval loads renewed records and writes them back without the renewal", async () => {
    const { clock, store, signedIn, visit, advance } = setup();
    const first = await signedIn();
    advance(16 * MINUTE);
    const second = (await visit(first))!;
    const plain = new SessionManager<Record<string, unknown>>({ store, now: () => clock.now, gcInterval: 0 });
    const loaded = await plain.load(second);
    expect(loaded.userId).toBe(USER);
    loaded.set("x", 1);
    await plain.commit(loaded);
    expect((await store.inner.get(hashToken(second)))?.data).toMatch(/^\d+~/);
    expect((await plain.load(first)).isNew, "a forward written before the option was turned off still leads to the session").toBe(false);
  });
});

describe('the "expired" event', () => {
  it("a load that finds an expired record emits it, with the handle and the user id", async () => {
    const clock = { now: 1_700_000_000_000 };
    const store = new MemoryStore({ now: () => clock.now });
    const events: SessionEvent[] = [];
    const long = new SessionManager<Record<string, unknown>>({ store, now: () => clock.now, gcInterval: 0, idleTimeout: "2h", absoluteTimeout: "24h" });
    const session = await long.load();
    await session.signIn(USER);
    const token = tokenOf(await long.commit(session))!;
    const handle = session.handle;
    // The app shortened the absolute timeout: the store still returns the record, the manager refuses it.
    const short = new SessionManager<Record<string, unknown>>({ store, now: () => clock.now, gcInterval: 0, absoluteTimeout: "1h", onEvent: (event) => events.push(event) });
    clock.now += 90 * MINUTE;
    expect((await short.load(token)).isNew).toBe(true);
    expect(events.map(({ type, handle, userId }) => ({ type, handle, userId }))).toEqual([{ type: "expired", handle, userId: USER }]);
  });

  it("an unknown or forged token emits nothing", async () => {
    const events: SessionEvent[] = [];
    const sessions = new SessionManager({ store: new MemoryStore(), gcInterval: 0, onEvent: (event) => events.push(event) });
    await sessions.load("A".repeat(43));
    await sessions.load("not a token");
    expect(events).toEqual([]);
  });

  it("gc emits one event with the count it removed, and none when it removed nothing", async () => {
    const clock = { now: 1_700_000_000_000 };
    const events: SessionEvent[] = [];
    const sessions = new SessionManager({ store: new MemoryStore({ now: () => clock.now }), now: () => clock.now, gcInterval: 0, onEvent: (event) => events.push(event) });
    for (let i = 0; i < 3; i++) {
      const session = await sessions.load();
      session.set("i", i);
      await sessions.commit(session);
    }
    events.length = 0;
    expect(await sessions.gc()).toBe(0);
    expect(events).toEqual([]);
    clock.now += 31 * MINUTE;
    expect(await sessions.gc()).toBe(3);
    expect(events.map(({ type, handle, count }) => ({ type, handle, count }))).toEqual([{ type: "expired", handle: "", count: 3 }]);
  });

  it("a cookie session past its sealed expiry emits it; a forged cookie does not", async () => {
    const clock = { now: 1_700_000_000_000 };
    const events: SessionEvent[] = [];
    const store = new CookieStore({ secrets: [SECRET] });
    const sessions = new SessionManager<Record<string, unknown>>({ store, now: () => clock.now, onEvent: (event) => events.push(event) });
    const session = await sessions.load();
    await session.signIn(USER);
    const cookie = tokenOf(await sessions.commit(session))!;
    const handle = session.handle;
    events.length = 0;
    clock.now += 31 * MINUTE;
    expect((await sessions.load(decodeURIComponent(cookie))).isNew).toBe(true);
    expect(events.map(({ type, handle, userId }) => ({ type, handle, userId }))).toEqual([{ type: "expired", handle, userId: USER }]);
    events.length = 0;
    await sessions.load(decodeURIComponent(cookie).slice(0, -4) + "AAAA");
    expect(events).toEqual([]);
  });
});

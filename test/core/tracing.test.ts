/**
 * The diagnostics_channel tracing channels (src/core/tracing.ts): what each publishes, in which
 * order, and that no message ever carries a token, a store key, a handle or a user id.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import diagnostics from "node:diagnostics_channel";
import { afterEach, describe, expect, it } from "vitest";
import type { SessionEnded, SessionStore, SessionTrace } from "../../src/index.js";
import { MemoryStore, SESSIONKIT_CHANNELS, SessionManager } from "../../src/index.js";
import { GatedStore } from "../../src/testing/index.js";
// The deprecated `provider:` option resolves through the registry, which `sessionkit/providers` installs.
import "../../src/providers/index.js";

type Event = "start" | "end" | "asyncStart" | "asyncEnd" | "error";
interface Seen {
  channel: string;
  event: Event;
  message: SessionTrace;
  /** The message as it was when published (the object itself changes as the work goes on). */
  copy: string;
}

const EVENTS: Event[] = ["start", "end", "asyncStart", "asyncEnd", "error"];
let unsubscribe: Array<() => void> = [];
afterEach(() => {
  for (const off of unsubscribe) off();
  unsubscribe = [];
});

/** Subscribes to every sessionkit channel; the returned lists fill as they publish. */
function listen(): { seen: Seen[]; ended: SessionEnded[] } {
  const seen: Seen[] = [];
  const ended: SessionEnded[] = [];
  for (const [key, name] of Object.entries(SESSIONKIT_CHANNELS)) {
    if (key === "ended") continue;
    const channel = diagnostics.tracingChannel<unknown, SessionTrace>(name);
    const handlers = Object.fromEntries(
      EVENTS.map((event) => [event, (message: SessionTrace) => seen.push({ channel: key, event, message, copy: JSON.stringify({ ...message, error: String(message.error ?? "") }) })]),
    ) as unknown as diagnostics.TracingChannelSubscribers<SessionTrace>;
    channel.subscribe(handlers);
    unsubscribe.push(() => channel.unsubscribe(handlers));
  }
  const onEnded = (message: unknown) => ended.push(message as SessionEnded);
  diagnostics.subscribe(SESSIONKIT_CHANNELS.ended, onEnded);
  unsubscribe.push(() => diagnostics.unsubscribe(SESSIONKIT_CHANNELS.ended, onEnded));
  return { seen, ended };
}

/** The events of `channel` that close a span: end with an outcome (synchronous work), or asyncEnd. */
const settledOn = (seen: Seen[], channel: string) =>
  seen.filter((s) => s.channel === channel && (s.event === "asyncEnd" || (s.event === "end" && (JSON.parse(s.copy) as SessionTrace).outcome !== undefined)));
const tokenOf = (cookies: string[]) => /^sid=([^;]*)/.exec(cookies[0] ?? "")?.[1] ?? "";

/** A store that answers every call a tick later, as a networked one does. */
class LaterStore implements SessionStore {
  readonly #inner: SessionStore = new MemoryStore();
  async get(...args: Parameters<SessionStore["get"]>) {
    return (await null, this.#inner.get(...args));
  }
  async set(...args: Parameters<SessionStore["set"]>) {
    return (await null, this.#inner.set(...args));
  }
  async destroy(...args: Parameters<SessionStore["destroy"]>) {
    return (await null, this.#inner.destroy(...args));
  }
}

describe("no subscriber", () => {
  it("publishes nothing and asks every channel only whether someone listens", async () => {
    for (const name of Object.values(SESSIONKIT_CHANNELS)) expect(diagnostics.hasSubscribers(name)).toBe(false);
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore() });
    const session = await sessions.load();
    session.set("n", 1);
    expect(await sessions.commit(session)).toHaveLength(1);
  });
});

describe("a request's life on the channels", () => {
  it("load, commit and each store call, with the store's class and the outcome (synchronous store)", async () => {
    const { seen } = listen();
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore() });
    const first = await sessions.load();
    first.set("n", 1);
    const token = tokenOf(await sessions.commit(first));
    await sessions.load(token);
    await sessions.load("A".repeat(43));

    expect(settledOn(seen, "load").map((s) => s.message.outcome)).toEqual(["none", "found", "not-found"]);
    expect(settledOn(seen, "commit").map((s) => s.message.outcome)).toEqual(["ok"]);
    expect(settledOn(seen, "store").map((s) => `${s.message.operation} ${s.message.outcome}`)).toEqual(["set applied", "get hit", "get miss"]);
    expect(new Set(seen.map((s) => s.message.store))).toEqual(new Set(["MemoryStore"]));
    // A synchronous store: start then end, no async events.
    expect(seen.filter((s) => s.channel === "store").map((s) => s.event)).toEqual(["start", "end", "start", "end", "start", "end"]);
  });

  it("a load that first waits for a provider's store is one load span", async () => {
    const { seen } = listen();
    const sessions = new SessionManager({ provider: "memory", gcInterval: 0 });
    await sessions.load();
    expect(seen.filter((s) => s.channel === "load" && s.event === "start")).toHaveLength(1);
    await sessions.close();
  });

  it("an asynchronous store: end has no outcome yet, asyncEnd has it", async () => {
    const { seen } = listen();
    const sessions = new SessionManager<Record<string, unknown>>({ store: new LaterStore() });
    const session = await sessions.load();
    session.set("n", 1);
    await sessions.commit(session);
    const store = seen.filter((s) => s.channel === "store");
    expect(store.map((s) => s.event)).toEqual(["start", "end", "asyncStart", "asyncEnd"]);
    expect(store.map((s) => JSON.parse(s.copy).outcome as unknown)).toEqual([undefined, undefined, "applied", "applied"]);
    expect(store[0]!.message.store).toBe("LaterStore");
    expect(settledOn(seen, "commit").map((s) => s.event)).toEqual(["asyncEnd"]);
  });

  it("a failed store call publishes error with outcome 'error', and the caller still gets the error", async () => {
    const { seen } = listen();
    const store: SessionStore = { get: () => Promise.reject(new Error("down")), set: () => true, destroy: () => {} };
    const sessions = new SessionManager({ store });
    await expect(sessions.load("x".repeat(43))).rejects.toMatchObject({ code: "ERR_SESSION_STORE" });
    const errors = seen.filter((s) => s.event === "error");
    expect(errors.map((s) => `${s.channel} ${s.message.outcome}`)).toEqual(["store error", "load error"]);
    expect(errors[0]!.message.error).toMatchObject({ code: "ERR_SESSION_STORE" });
  });

  it("binds a subscriber's AsyncLocalStorage for the traced work (start.bindStore), as Node's tracePromise does", async () => {
    listen();
    const storage = new AsyncLocalStorage<string>();
    const start = diagnostics.channel(`tracing:${SESSIONKIT_CHANNELS.store}:start`);
    start.bindStore(storage, (message) => `span of ${(message as SessionTrace).operation}`);
    unsubscribe.push(() => start.unbindStore(storage));
    const inside: Array<string | undefined> = [];
    const memory: SessionStore = new MemoryStore();
    const store: SessionStore = { get: (k, o) => memory.get(k, o), set: (k, w, o) => (inside.push(storage.getStore()), memory.set(k, w, o)), destroy: (k, o) => memory.destroy(k, o) };
    const sessions = new SessionManager<Record<string, unknown>>({ store });
    const session = await sessions.load();
    session.set("n", 1);
    await sessions.commit(session);
    expect(inside).toEqual(["span of set"]);
  });
});

describe("conflicts", () => {
  it("B commits while A's write is held: A's lost compare-and-set is one conflict span, merged", async () => {
    const gated = new GatedStore(new MemoryStore());
    const sessions = new SessionManager<Record<string, unknown>>({ store: gated });
    const seed = await sessions.load();
    seed.set("n", 0);
    const token = tokenOf(await sessions.commit(seed));
    const { seen } = listen();
    const a = await sessions.load(token);
    const b = await sessions.load(token);
    a.set("a", 1);
    b.set("b", 1);
    const gate = gated.hold("set");
    const committingA = sessions.commit(a);
    await gate.reached;
    await sessions.commit(b);
    gate.release();
    await committingA;
    expect(settledOn(seen, "conflict").map((s) => `${s.message.operation} ${s.message.outcome}`)).toEqual(["set merged"]);
    expect((await sessions.load(token)).toJSON()).toEqual({ n: 0, a: 1, b: 1 });
  });
});

describe("identity and upkeep", () => {
  it("sign-in, revocation, logout and gc: outcomes, counts, and sessions ended by reason", async () => {
    let now = Date.UTC(2026, 0, 1);
    const store = new MemoryStore({ now: () => now });
    const sessions = new SessionManager<Record<string, unknown>>({ store, now: () => now, idleTimeout: "10m", gcInterval: 0 });
    const { seen, ended } = listen();
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) {
      const session = await sessions.load();
      await session.signIn("ada@example.com");
      tokens.push(tokenOf(await sessions.commit(session)));
    }
    const keep = await sessions.load(tokens[0]);
    expect(await sessions.revokeUser("ada@example.com", { except: keep })).toBe(2);
    await keep.destroy();
    await sessions.commit(keep);
    const idle = await sessions.load();
    idle.set("n", 1);
    await sessions.commit(idle);
    now += 11 * 60_000;
    expect(await sessions.gc()).toBe(1);

    expect(settledOn(seen, "signIn").map((s) => s.message.outcome)).toEqual(["signed-in", "signed-in", "signed-in"]);
    expect(settledOn(seen, "revoke").map((s) => [s.message.operation, s.message.count])).toEqual([["revokeUser", 2]]);
    expect(settledOn(seen, "gc").map((s) => [s.message.outcome, s.message.count])).toEqual([["ok", 1]]);
    expect(ended).toEqual([
      { store: "MemoryStore", reason: "revoked", count: 1 },
      { store: "MemoryStore", reason: "revoked", count: 1 },
      { store: "MemoryStore", reason: "destroyed", count: 1 },
      { store: "MemoryStore", reason: "expired", count: 1 },
    ]);

    // No message names a token, a key, a handle or the user, in clear or hashed as a key.
    const published = [...seen.map((s) => s.copy), ...ended.map((e) => JSON.stringify(e))].join("\n");
    expect(published).not.toContain("ada");
    for (const token of tokens) {
      expect(published).not.toContain(token);
      expect(published).not.toContain(token.slice(0, 12));
    }
    for (const info of await sessions.listSessions("ada@example.com")) expect(published).not.toContain(info.handle);
    expect(Object.keys(seen[0]!.message).sort()).toEqual(["operation", "outcome", "store"]);
  });

  it("a sign-in over the per-user cap evicts the oldest, published as ended by 'evicted'", async () => {
    const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore(), maxSessionsPerUser: 1 });
    const { ended } = listen();
    for (let i = 0; i < 2; i++) {
      const session = await sessions.load();
      await session.signIn("grace");
      await sessions.commit(session);
    }
    expect(ended).toEqual([{ store: "MemoryStore", reason: "evicted", count: 1 }]);
  });
});

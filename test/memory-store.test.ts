import { describe, expect, it } from "vitest";
import { MemoryStore } from "../src/index.js";
import { storeConformance } from "../src/testing/index.js";

await storeConformance("MemoryStore", () => new MemoryStore(), { test: it });

describe("MemoryStore", () => {
  it("evicts the least recently used session beyond maxSessions", () => {
    const store = new MemoryStore({ maxSessions: 2 });
    const write = { data: "x", expiresAt: Date.now() + 60_000, version: 1, expectedVersion: 0 };
    store.set("a", write);
    store.set("b", write);
    store.get("a"); // a is now more recent than b
    store.set("c", write);
    expect(store.get("b")).toBeNull();
    expect(store.get("a")).not.toBeNull();
    expect(store.get("c")).not.toBeNull();
    expect(store.count()).toBe(2);
  });

  it("an evicted session leaves its owner's list", () => {
    const store = new MemoryStore({ maxSessions: 1 });
    const write = { data: "x", expiresAt: Date.now() + 60_000, version: 1, expectedVersion: 0 };
    store.set("a", { ...write, owner: "alice" });
    store.set("b", { ...write, owner: "alice" });
    expect(store.listByOwner("alice").map((entry) => entry.key)).toEqual(["b"]);
  });

  it("frees expired sessions on read and gc, by its clock", async () => {
    let now = 1_000;
    const store = new MemoryStore({ now: () => now });
    store.set("a", { data: "x", expiresAt: 2_000, version: 1, expectedVersion: 0 });
    store.set("b", { data: "x", expiresAt: 3_000, version: 1, expectedVersion: 0 });
    now = 2_500;
    expect(store.get("a")).toBeNull();
    expect(store.count()).toBe(1);
    now = 3_500;
    expect(await store.gc()).toBe(1);
    expect(store.count()).toBe(0);
  });

  it("gc of a large backlog lets other work run between slices of 10,000 entries", async () => {
    let now = 1_000;
    const store = new MemoryStore({ now: () => now });
    for (let i = 0; i < 20_001; i++) store.set(`k${i}`, { data: "x", expiresAt: 2_000, version: 1, expectedVersion: 0 });
    store.set("live", { data: "x", expiresAt: 9_000, version: 1, expectedVersion: 0 });
    now = 3_000;
    const collecting = store.gc();
    let requestServedDuringGc = false;
    setImmediate(() => (requestServedDuringGc = store.get("live") !== null));
    expect(await collecting).toBe(20_001);
    expect(requestServedDuringGc).toBe(true);
    expect(store.count()).toBe(1);
  });

  it("rejects a maxSessions that is not a positive whole number", () => {
    expect(() => new MemoryStore({ maxSessions: 0 })).toThrow(TypeError);
    expect(() => new MemoryStore({ maxSessions: 0 })).toThrow(/maxSessions/);
  });
});

// What lets the core run on Workers: no timer before the first load, none for a store without
// gc(), and warnings that do not assume `process`.
import { afterEach, describe, expect, it, vi } from "vitest";
import { MemoryStore, SessionManager } from "../../src/index.js";
import { emitWarning } from "../../src/core/warnings.js";

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("the gc timer", () => {
  it("starts at the first load, not in the constructor (Workers forbid timers at module scope)", async () => {
    vi.useFakeTimers();
    const sessions = new SessionManager({ store: new MemoryStore(), gcInterval: "1m" });
    expect(vi.getTimerCount(), "constructing schedules nothing").toBe(0);
    await sessions.load();
    expect(vi.getTimerCount()).toBe(1);
    await sessions.load();
    expect(vi.getTimerCount(), "one timer, however many loads").toBe(1);
    await sessions.close();
    expect(vi.getTimerCount()).toBe(0);
    await sessions.load();
    expect(vi.getTimerCount(), "a closed manager does not start it again").toBe(0);
  });

  it("is never scheduled for a store without gc(), nor with gcInterval: 0", async () => {
    vi.useFakeTimers();
    const memory = new MemoryStore();
    const noGc = { get: memory.get.bind(memory), set: memory.set.bind(memory), destroy: memory.destroy.bind(memory) };
    await new SessionManager({ store: noGc }).load();
    await new SessionManager({ store: new MemoryStore(), gcInterval: 0 }).load();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("warnings", () => {
  it("go to process.emitWarning where there is one, and to console.warn where there is none", () => {
    const emit = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    emitWarning("a message", "SESSIONKIT_TEST");
    expect(emit).toHaveBeenCalledWith("a message", { type: "SessionkitWarning", code: "SESSIONKIT_TEST" });
    emit.mockRestore();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.stubGlobal("process", undefined);
    try {
      emitWarning("a message", "SESSIONKIT_TEST");
    } finally {
      vi.unstubAllGlobals();
    }
    expect(warn).toHaveBeenCalledWith("SESSIONKIT_TEST: a message");
    warn.mockRestore();
  });
});

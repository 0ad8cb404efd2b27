import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import type { StoreCallOptions, StoredSession } from "../../src/index.js";
import { MemoryStore, SessionManager, SessionStoreError } from "../../src/index.js";

const TOKEN_A = "A".repeat(43);
const TOKEN_B = "B".repeat(43);

const never = () => new Promise<null>(() => {});
const notFoundAfter = (ms: number) => new Promise<null>((resolve) => setTimeout(() => resolve(null), ms));

/** A store whose get() answers as `answer` says for its n-th call (from 0); it records each call's signal. */
function storeWith(answer: (n: number, options?: StoreCallOptions) => Promise<StoredSession | null>) {
  const signals: (AbortSignal | undefined)[] = [];
  const store = Object.assign(Object.create(new MemoryStore()) as MemoryStore, {
    get: (_key: string, options?: StoreCallOptions) => answer(signals.push(options?.signal) - 1, options),
  });
  return { store, signals };
}

describe("store calls under storeTimeout", () => {
  it("never gives up on a call before storeTimeout has passed, even one that starts late in a busy moment", async () => {
    const { store } = storeWith(never);
    const sessions = new SessionManager({ store, storeTimeout: 500 });
    const first = sessions.load(TOKEN_A).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 30)); // later than the first call, within a tenth of the timeout
    const started = performance.now();
    await expect(sessions.load(TOKEN_B)).rejects.toBeInstanceOf(SessionStoreError);
    // Node's timers count from the loop's cached clock, which may lag by under a millisecond.
    expect(performance.now() - started).toBeGreaterThanOrEqual(499);
    expect(await first).toBeInstanceOf(SessionStoreError);
  });

  it("times out only the calls still unanswered: an answered call that started beside them keeps its result", async () => {
    const { store, signals } = storeWith((n) => (n === 0 ? never() : notFoundAfter(5)));
    const sessions = new SessionManager({ store, storeTimeout: 40 });
    const [hung, answered] = await Promise.allSettled([sessions.load(TOKEN_A), sessions.load(TOKEN_B)]);
    expect(answered.status).toBe("fulfilled");
    expect(hung.status).toBe("rejected");
    expect((hung as PromiseRejectedResult).reason).toBeInstanceOf(SessionStoreError);
    expect(String((hung as PromiseRejectedResult).reason)).toMatch(/store\.get\(\) did not answer within 40 ms/);
    const hungSignal = signals[0];
    expect(hungSignal?.aborted).toBe(true);
    expect((hungSignal?.reason as Error).name).toBe("TimeoutError");
  });

  it("shows a store that reads the signal only after the timeout that its call was given up", async () => {
    let late: AbortSignal | undefined;
    const { store } = storeWith((_n, options) => new Promise((resolve) => setTimeout(() => ((late = options?.signal), resolve(null)), 80)));
    const sessions = new SessionManager({ store, storeTimeout: 20 });
    await expect(sessions.load(TOKEN_A)).rejects.toBeInstanceOf(SessionStoreError);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(late?.aborted).toBe(true);
  });

  it("aborts no signal when every call of its time answered", async () => {
    const { store, signals } = storeWith(() => notFoundAfter(2));
    const sessions = new SessionManager({ store, storeTimeout: 20 });
    await Promise.all([sessions.load(TOKEN_A), sessions.load(TOKEN_B)]);
    await new Promise((resolve) => setTimeout(resolve, 60)); // past the timeout and its window
    expect(signals).toHaveLength(2);
    for (const signal of signals) expect(signal?.aborted).toBe(false);
  });

  it("lets every call of a busy moment listen to its signal without a listener-leak warning", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const { store } = storeWith((_n, options) => {
        const stop = () => {};
        options?.signal?.addEventListener("abort", stop, { once: true }); // as node-redis does per command
        return notFoundAfter(5).finally(() => options?.signal?.removeEventListener("abort", stop));
      });
      const sessions = new SessionManager({ store, storeTimeout: "5s" });
      await Promise.all(Array.from({ length: 50 }, () => sessions.load(TOKEN_A)));
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on a later tick
      expect(warnings.map((w) => w.name)).not.toContain("MaxListenersExceededWarning");
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("does not keep an idle process alive for storeTimeout once its store calls have answered", async () => {
    // A child process loads one session from a store that answers asynchronously, under a 30 s timeout.
    const script = `
      import { MemoryStore, SessionManager } from "./src/index.ts";
      const memory = new MemoryStore();
      const store = Object.assign(Object.create(memory), { get: (key) => new Promise((r) => setTimeout(() => r(memory.get(key)), 5)) });
      const sessions = new SessionManager({ store, storeTimeout: "30s", gcInterval: 0 });
      await sessions.load("${TOKEN_A}");
      console.log("loaded");
    `;
    const started = Date.now();
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { timeout: 25_000 });
    expect(stdout.trim()).toBe("loaded");
    expect(Date.now() - started).toBeLessThan(25_000);
  }, 40_000);
});

/**
 * Which store calls the manager marks `final` (they end a session, so a store replicating
 * asynchronously must not acknowledge them before a replica has them; RedisStore waits for one).
 * The real MemoryStore, with every call's operation, key, data and options recorded.
 */
import { describe, expect, it } from "vitest";
import { MemoryStore, SessionManager } from "../src/index.js";
import type { SessionWrite, StoreCallOptions } from "../src/core/store.js";
import { final } from "../src/core/store-call.js";

interface Call {
  operation: string;
  key: string;
  data?: string;
  final: boolean;
}

class RecordingStore extends MemoryStore {
  readonly calls: Call[] = [];
  override set(key: string, write: SessionWrite, options?: StoreCallOptions) {
    this.calls.push({ operation: "set", key, data: write.data, final: options?.final === true });
    return super.set(key, write);
  }
  override destroy(key: string, options?: StoreCallOptions) {
    this.calls.push({ operation: "destroy", key, final: options?.final === true });
    return super.destroy(key);
  }
}

async function setUp() {
  const store = new RecordingStore();
  const sessions = new SessionManager({ store, gcInterval: 0 });
  const signedIn = async (user: string) => {
    const session = await sessions.load();
    await session.signIn(user);
    return /^sid=([^;]*)/.exec((await sessions.commit(session))[0]!)![1]!;
  };
  return { store, sessions, signedIn };
}

const finalSets = (calls: Call[]) => calls.filter((call) => call.operation === "set" && call.final);

describe("the writes that end a session are final", () => {
  it("ordinary commits and new records are not; a rotation's retire of the old id is", async () => {
    const { store, sessions, signedIn } = await setUp();
    const token = await signedIn("ada");
    expect(finalSets(store.calls)).toEqual([]); // a fresh sign-in retires nothing
    store.calls.length = 0;
    const session = await sessions.load(token);
    session.set("cart", 3);
    await sessions.commit(session);
    expect(store.calls).toEqual([expect.objectContaining({ operation: "set", final: false })]);
    store.calls.length = 0;
    const rotating = await sessions.load(token);
    await rotating.regenerate();
    await sessions.commit(rotating);
    // The new record is ordinary, the old id's retirement ("-") is final.
    expect(store.calls.filter((call) => call.operation === "set").map((call) => [call.data === "-", call.final])).toEqual([
      [false, false],
      [true, true],
    ]);
  });

  it("a logout: the compare-and-set to the retired marker is final (and the destroy after it)", async () => {
    const { store, sessions, signedIn } = await setUp();
    const token = await signedIn("ada");
    store.calls.length = 0;
    const session = await sessions.load(token);
    await session.destroy();
    await sessions.commit(session);
    expect(finalSets(store.calls).map((call) => call.data)).toEqual(["-"]);
    expect(store.calls.map((call) => call.operation)).toContain("destroy");
  });

  it("a revocation: the fence write is final", async () => {
    const { store, sessions, signedIn } = await setUp();
    await signedIn("ada");
    store.calls.length = 0;
    expect(await sessions.revokeUser("ada")).toBe(1);
    const fenceWrites = store.calls.filter((call) => call.operation === "set" && call.key.startsWith("fence_"));
    expect(fenceWrites).toHaveLength(1);
    expect(fenceWrites[0]!.final).toBe(true);
  });
});

describe("final(options)", () => {
  it("wraps a shared window without changing it: same signal and timeout, final only on the copy", () => {
    const controller = new AbortController();
    let reads = 0;
    const shared: StoreCallOptions = {
      get signal() {
        reads++;
        return controller.signal;
      },
      timeout: 5000,
    };
    const marked = final(shared);
    expect(reads).toBe(0); // the signal is still made only if a store reads it
    expect(marked.final).toBe(true);
    expect(marked.timeout).toBe(5000);
    expect(marked.signal).toBe(controller.signal);
    expect(shared.final).toBeUndefined();
  });
});

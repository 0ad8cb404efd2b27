import type { SessionStore, SessionWrite, StoredSession } from "../../src/index.js";
import { MemoryStore } from "../../src/index.js";

/** A MemoryStore that records which calls reached it, to prove what never does. */
export class RecordingStore implements SessionStore {
  readonly inner = new MemoryStore();
  readonly calls: string[] = [];
  get(key: string): StoredSession | null {
    this.calls.push("get");
    return this.inner.get(key);
  }
  set(key: string, write: SessionWrite): boolean {
    this.calls.push("set");
    return this.inner.set(key, write);
  }
  destroy(key: string): void {
    this.calls.push("destroy");
    this.inner.destroy(key);
  }
  touch(key: string, expiresAt: number): void {
    this.calls.push("touch");
    this.inner.touch(key, expiresAt);
  }
  count(): number {
    return this.inner.count();
  }
}

/** A store that fails (or hangs) on demand, then recovers: for error-path tests. */
export class FlakyStore implements SessionStore {
  readonly inner = new MemoryStore();
  mode: "ok" | "fail" | "failWrites" | "hang" | "slow" = "ok";
  completedWrites = 0;
  async #gate(): Promise<void> {
    if (this.mode === "fail") throw new Error("connection refused (simulated outage)");
    if (this.mode === "hang") await new Promise(() => {});
    if (this.mode === "slow") await new Promise((resolve) => setTimeout(resolve, 200));
  }
  async get(key: string): Promise<StoredSession | null> {
    await this.#gate();
    return this.inner.get(key);
  }
  async set(key: string, write: SessionWrite): Promise<boolean> {
    await this.#gate();
    if (this.mode === "failWrites") throw new Error("disk full (simulated)");
    const ok = this.inner.set(key, write);
    this.completedWrites++;
    return ok;
  }
  async destroy(key: string): Promise<void> {
    await this.#gate();
    this.inner.destroy(key);
  }
}

// Test-only (copied into server/ beside the documented files): a second manager, for the /lab/
// routes only (middleware/test-lab.ts). The documented block's manager stays as written (a
// MemoryStore, the default cookie); this one is set up as the guarantees it cannot show need:
// cookie.secure: true with the name __Host-sid, an onEvent that records, and a store the test can
// hold on a barrier or make fail (routes/lab/[...path].ts, POST /lab/store).
import { MemoryStore, SessionManager } from "sessionkit";
import type { SessionEventType, SessionWrite, StoredSession } from "sessionkit";
// The GatedStore barrier of sessionkit/testing, from its own module: the package entry also loads a
// test runner, which has no place in a server bundle.
import { GatedStore } from "../../../../../dist/testing/gate.js";

/** A MemoryStore whose calls throw while `down` is set, as a store that lost its server. */
class SwitchableStore extends MemoryStore {
  down = false;

  override get(key: string): StoredSession | null {
    this.#check();
    return super.get(key);
  }

  override set(key: string, write: SessionWrite): boolean {
    this.#check();
    return super.set(key, write);
  }

  override destroy(key: string): void {
    this.#check();
    super.destroy(key);
  }

  #check(): void {
    if (this.down) throw new Error("store is down (test)");
  }
}

export const labBackend = new SwitchableStore();
export const labStore = new GatedStore(labBackend);
/** The audit events of the lab manager so far (GET /lab/events). */
export const labEvents: SessionEventType[] = [];

export const labSessions = new SessionManager<{ user?: string; n?: number }>({
  store: labStore,
  cookie: { name: "__Host-sid", secure: true },
  onEvent: (event) => void labEvents.push(event.type),
});

import { MemoryStore, SessionManager } from "sessionkit";
import type { SessionStore, SessionWrite } from "sessionkit";
// The GatedStore barrier of sessionkit/testing, from its own module: the package entry also loads a
// test runner, which has no place in an app bundle.
import { GatedStore } from "../../../../dist/testing/gate.js";

/** For the test of SvelteKit's error path: a store whose writes fail (SESSION_STORE_DOWN=1). */
class WritesFail extends MemoryStore implements SessionStore {
  override set(_key: string, _write: SessionWrite): boolean {
    throw new Error("store is down (test)");
  }
}

/** The audit events seen so far (GET /api/store). */
export const events: string[] = [];

/** The store the manager uses: the test can hold one of its calls (routes/api/store/+server.ts). */
export const gated = new GatedStore(process.env.SESSION_STORE_DOWN ? new WritesFail() : new MemoryStore());

export const sessions = new SessionManager({
  store: gated,
  // SESSION_HOST_COOKIE=1: as an app served only over https would set it up.
  ...(process.env.SESSION_HOST_COOKIE ? { cookie: { name: "__Host-sid", secure: true } } : {}),
  onEvent: (event) => void events.push(event.type),
});

import { MemoryStore, SessionManager } from "sessionkit";
import { createSessionStorage } from "sessionkit/react-router";
// The GatedStore barrier of sessionkit/testing, from its own module: the package entry also loads a
// test runner, which has no place in an app bundle.
import { GatedStore } from "../../../../dist/testing/gate.js";

interface AppSession {
  user?: string;
  visits?: number;
  message?: string; // a flash (session.flash("message", …))
  // written by POST /api/every-member
  a?: number;
  b?: number;
  c?: number;
  kept?: boolean;
}

/** A MemoryStore the test can switch off, which keeps the audit events (see routes/store.ts). */
class TestStore extends MemoryStore {
  failing = false;
  events: string[] = [];
  override set(...args: Parameters<MemoryStore["set"]>): ReturnType<MemoryStore["set"]> {
    if (this.failing) throw new Error("the store is down (test)");
    return super.set(...args);
  }
}

export const store = new TestStore();
/** The store the managers use: the test can hold one of its calls (see routes/store.ts). */
export const gated = new GatedStore(store);
export const sessions = new SessionManager<AppSession>({ store: gated, onEvent: (event) => void store.events.push(event.type) });

// The data type is the manager's. The app runs on plain http://127.0.0.1 in the test: say so,
// or production means Secure.
export const { getSession, commitSession, destroySession } = createSessionStorage(sessions, { secure: process.env.HTTPS === "1" });

/** A second manager on the same store, as an app served only over https would set it up. */
export const hostSessions = new SessionManager<AppSession>({ store: gated, cookie: { name: "__Host-sid", secure: true } });
export const hostStorage = createSessionStorage(hostSessions);

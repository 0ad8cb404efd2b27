import { MemoryStore, SessionManager } from "sessionkit";
import { createSessionStorage } from "sessionkit/react-router";

interface AppSession {
  user?: string;
  visits?: number;
  message?: string; // a flash (session.flash("message", …))
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
export const sessions = new SessionManager<AppSession>({ store, onEvent: (event) => void store.events.push(event.type) });

// The data type is the manager's. The app runs on plain http://127.0.0.1 in the test: say so,
// or production means Secure.
export const { getSession, commitSession, destroySession } = createSessionStorage(sessions, { secure: process.env.HTTPS === "1" });

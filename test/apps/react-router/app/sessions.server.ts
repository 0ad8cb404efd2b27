import { MemoryStore, SessionManager } from "sessionkit";
import { createSessionStorage } from "sessionkit/react-router";

interface AppSession {
  user?: string;
}
interface AppFlash {
  message?: string;
}

/** A MemoryStore the test can switch off (see routes/store.ts). */
class TestStore extends MemoryStore {
  failing = false;
  override set(...args: Parameters<MemoryStore["set"]>): ReturnType<MemoryStore["set"]> {
    if (this.failing) throw new Error("the store is down (test)");
    return super.set(...args);
  }
}

export const store = new TestStore();
export const sessions = new SessionManager<AppSession>({ store });

// The app runs on plain http://127.0.0.1 in the test: say so, or production means Secure.
export const { getSession, commitSession, destroySession } = createSessionStorage<AppSession, AppFlash>(sessions, {
  secure: process.env.HTTPS === "1",
});

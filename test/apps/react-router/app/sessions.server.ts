import { MemoryStore, SessionManager } from "sessionkit";
import { createSessionStorage } from "sessionkit/react-router";

interface AppSession {
  user?: string;
}
interface AppFlash {
  message?: string;
}

export const sessions = new SessionManager<AppSession>({ store: new MemoryStore() });

// The app runs on plain http://127.0.0.1 in the test: say so, or production means Secure.
export const { getSession, commitSession, destroySession } = createSessionStorage<AppSession, AppFlash>(sessions, {
  secure: process.env.HTTPS === "1",
});

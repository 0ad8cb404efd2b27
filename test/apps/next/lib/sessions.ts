import { MemoryStore, SessionManager } from "sessionkit";

export interface AppSession {
  user?: string;
  visits?: number;
}

/** Counts touches, so the test can see a Server Component read extend the idle expiry. */
class CountingStore extends MemoryStore {
  touches = 0;
  override touch(key: string, expiresAt: number): void {
    this.touches++;
    super.touch(key, expiresAt);
  }
}

// A MemoryStore lives in one process and Next.js may evaluate this module once per route
// bundle, so the manager is kept on globalThis. With Redis or PostgreSQL a module constant is fine.
const shared = globalThis as { sessionStore?: CountingStore; sessions?: SessionManager<AppSession> };
export const store = (shared.sessionStore ??= new CountingStore());
export const sessions = (shared.sessions ??= new SessionManager<AppSession>({ store, touchInterval: 0 }));

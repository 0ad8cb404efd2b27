import { MemoryStore, SessionManager } from "sessionkit";

export interface AppSession {
  user?: string;
  visits?: number;
}

/** Counts touches and can be switched off, for the test (see app/api/store/route.ts). */
class TestStore extends MemoryStore {
  touches = 0;
  failing = false;
  override set(...args: Parameters<MemoryStore["set"]>): ReturnType<MemoryStore["set"]> {
    if (this.failing) throw new Error("the store is down (test)");
    return super.set(...args);
  }
  override touch(key: string, expiresAt: number): void {
    this.touches++;
    super.touch(key, expiresAt);
  }
}

// A MemoryStore lives in one process and Next.js may evaluate this module once per route
// bundle, so the manager is kept on globalThis. With Redis or PostgreSQL a module constant is fine.
const shared = globalThis as { sessionStore?: TestStore; sessions?: SessionManager<AppSession> };
export const store = (shared.sessionStore ??= new TestStore());
export const sessions = (shared.sessions ??= new SessionManager<AppSession>({ store, touchInterval: 0 }));

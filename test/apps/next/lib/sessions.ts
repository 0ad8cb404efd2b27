import { MemoryStore, SessionManager } from "sessionkit";

export interface AppSession {
  user?: string;
  visits?: number;
}

/** Counts touches and can be switched off, for the test (see app/api/store/route.ts). */
class TestStore extends MemoryStore {
  touches = 0;
  failing = false;
  /** The audit events seen (onEvent below), for app/api/touches/route.ts. */
  events: string[] = [];
  override set(...args: Parameters<MemoryStore["set"]>): ReturnType<MemoryStore["set"]> {
    if (this.failing) throw new Error("the store is down (test)");
    return super.set(...args);
  }
  override touch(key: string, expiresAt: number): void {
    this.touches++;
    super.touch(key, expiresAt);
  }
}

// One manager per process, as docs/adapters.md sets it up: Next.js may evaluate this module once
// per route bundle, and each copy would otherwise make its own MemoryStore.
declare global {
  var sessionStore: TestStore | undefined;
  var sessions: SessionManager<AppSession> | undefined;
}
export const store = (globalThis.sessionStore ??= new TestStore());
export const sessions = (globalThis.sessions ??= new SessionManager<AppSession>({
  store,
  touchInterval: 0,
  onEvent: (event) => void store.events.push(event.type),
}));

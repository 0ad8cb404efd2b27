import { MemoryStore, SessionManager } from "sessionkit";
// The GatedStore barrier of sessionkit/testing, from its own module: the package entry also loads a
// test runner, which has no place in an app bundle.
import { GatedStore } from "../../../../dist/testing/gate.js";

export interface AppSession {
  user?: string;
  visits?: number;
  // written by POST /api/every-member
  a?: number;
  b?: number;
  c?: number;
  kept?: boolean;
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
  var gatedStore: GatedStore | undefined;
  var sessions: SessionManager<AppSession> | undefined;
  var hostSessions: SessionManager<AppSession> | undefined;
  var heldSet: ReturnType<GatedStore["hold"]> | undefined;
}
export const store = (globalThis.sessionStore ??= new TestStore());
/** The store the managers use: the test can hold one of its calls (app/api/store/route.ts). */
export const gated = (globalThis.gatedStore ??= new GatedStore(store));
export const sessions = (globalThis.sessions ??= new SessionManager<AppSession>({
  store: gated,
  touchInterval: 0,
  onEvent: (event) => void store.events.push(event.type),
}));

/** A second manager on the same store, as an app served only over https would set it up. */
export const hostSessions = (globalThis.hostSessions ??= new SessionManager<AppSession>({
  store: gated,
  touchInterval: 0,
  cookie: { name: "__Host-sid", secure: true },
}));

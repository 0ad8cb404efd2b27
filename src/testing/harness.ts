import assert from "node:assert/strict";
import { SessionManager } from "../core/manager.js";
import type { SessionManagerOptions } from "../core/options.js";
import type { Awaitable, SessionStore, SessionWrite } from "../core/store.js";

export type StoreFactory = () => Awaitable<SessionStore>;

export interface ConformanceOptions {
  /** Registers one test; default: the runner's global `it`/`test`, else Vitest's or node:test's `test`. */
  test?: (name: string, run: (context?: TestContext) => Promise<void>) => void;
  /** Frees a store after a case; default `store.close()`. */
  cleanup?: (store: SessionStore) => Awaitable<void>;
  /** How long records live in the expiry cases, in ms. Default 300; raise it for slow stores. */
  shortLifetime?: number;
}

/** The part of Vitest's and node:test's test context the suite uses: reporting a skip. */
export interface TestContext {
  skip?: (note?: string) => void;
}

export interface ConformanceCase {
  name: string;
  run: (context?: TestContext) => Promise<void>;
}

export type Skip = (note: string) => void;

export const LONG = 10 * 60_000;
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What every case needs: a fresh store per case, managers over it, and small helpers. */
export function harness(factory: StoreFactory, options: ConformanceOptions) {
  const withStore = (run: (store: SessionStore, skip: Skip) => Promise<void>) => async (context?: TestContext) => {
    const store = await factory();
    // A case about an optional method the store lacks is reported as skipped, not as a pass.
    const skip = (note: string) => context?.skip?.(note);
    try {
      await run(store, skip);
    } finally {
      await (options.cleanup ? options.cleanup(store) : store.close?.());
    }
  };
  const write = (data: string, expiresAt: number, expectedVersion = 0): SessionWrite => ({ data, expiresAt, version: expectedVersion + 1, expectedVersion });
  const manager = (store: SessionStore, extra: Partial<SessionManagerOptions> = {}) =>
    new SessionManager<Record<string, unknown>>({ store, gcInterval: 0, maxSize: 4 * 1024 * 1024, ...extra });
  const tokenOf = (cookies: string[]) => /^sid=([^;]*)/.exec(cookies[0] ?? "")?.[1] ?? assert.fail("no session cookie was set");
  return { withStore, write, manager, tokenOf, short: options.shortLifetime ?? 300 };
}

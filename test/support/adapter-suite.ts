/**
 * The behaviour every framework adapter owes its users, checked through a real server on
 * 127.0.0.1 and Node's fetch. Each adapter test starts an app serving these routes:
 *
 *   GET  /untouched              "ok", never reads the session
 *   GET  /read                   the session data as JSON
 *   GET  /set?key=k&value=v      session.set(k, v)
 *   GET  /cached?cc=v            session.set("seen", true) and Cache-Control: v (default "private, max-age=60")
 *   POST /login                  await session.regenerate(); session.set("user", "alice")
 *   POST /logout                 await session.destroy()
 *
 * and pushes every error that reaches the framework's error path into `errors`.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Awaitable, SessionStore, SessionWrite, StoredSession } from "../../src/core/store.js";
import { SessionManager } from "../../src/core/manager.js";
import { MemoryStore } from "../../src/stores/memory.js";

export interface RunningApp {
  url: string;
  close(): Promise<void>;
}

export type StartApp = (manager: SessionManager, errors: unknown[]) => Promise<RunningApp>;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A MemoryStore whose writes take 200 ms and which can be switched to failing. */
export class TestStore implements SessionStore {
  readonly inner = new MemoryStore();
  writeDelayMs = 0;
  failing = false;
  /** Answer get() and set() without a promise, as MemoryStore does (a failure is then a synchronous throw). */
  synchronous = false;
  /** Keys whose set() has fully finished, in completion order. */
  readonly finishedWrites: string[] = [];

  get(key: string): Awaitable<StoredSession | null> {
    if (this.synchronous) {
      this.#check();
      return this.inner.get(key);
    }
    return this.#getLater(key);
  }

  async #getLater(key: string): Promise<StoredSession | null> {
    this.#check();
    return this.inner.get(key);
  }

  set(key: string, write: SessionWrite): Awaitable<boolean> {
    if (this.synchronous) {
      this.#check();
      return this.inner.set(key, write);
    }
    return this.#setLater(key, write);
  }

  async #setLater(key: string, write: SessionWrite): Promise<boolean> {
    this.#check();
    if (this.writeDelayMs > 0) await delay(this.writeDelayMs);
    const applied = this.inner.set(key, write);
    this.finishedWrites.push(key);
    return applied;
  }

  async destroy(key: string): Promise<void> {
    this.#check();
    this.inner.destroy(key);
  }

  count(): number {
    return this.inner.count();
  }

  #check(): void {
    if (this.failing) throw new Error("store is down (test)");
  }
}

/** The `sid=value` pair of the session cookie in a response, or undefined. */
export function sessionCookie(response: Response): string | undefined {
  const line = response.headers.getSetCookie().find((c) => c.startsWith("sid="));
  return line?.split(";")[0];
}

export function adapterSuite(framework: string, startApp: StartApp): void {
  describe(`${framework} adapter (real server on 127.0.0.1)`, () => {
    let app: RunningApp | undefined;
    let store: TestStore;
    let errors: unknown[];

    async function start(): Promise<(path: string, init?: RequestInit & { cookie?: string }) => Promise<Response>> {
      store = new TestStore();
      errors = [];
      app = await startApp(new SessionManager({ store, gcInterval: 0 }), errors);
      const base = app.url;
      return (path, init = {}) => {
        const headers = new Headers(init.headers);
        if (init.cookie) headers.set("cookie", init.cookie);
        return fetch(base + path, { ...init, headers });
      };
    }

    async function readJson(response: Response): Promise<Record<string, unknown>> {
      expect(response.status).toBe(200);
      return (await response.json()) as Record<string, unknown>;
    }

    afterEach(async () => {
      await app?.close();
      app = undefined;
    });

    it("sets an HttpOnly, SameSite=Lax, Path=/ cookie with Cache-Control: no-store", async () => {
      const request = await start();
      const response = await request("/set?key=color&value=blue");
      expect(response.status).toBe(200);
      const setCookie = response.headers.getSetCookie();
      expect(setCookie).toHaveLength(1);
      expect(setCookie[0]).toMatch(/^sid=[A-Za-z0-9_-]{43}; /);
      expect(setCookie[0]).toContain("HttpOnly");
      expect(setCookie[0]).toContain("SameSite=Lax");
      expect(setCookie[0]).toContain("Path=/");
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(await readJson(await request("/read", { cookie: sessionCookie(response) }))).toEqual({ color: "blue" });
    });

    it("keeps a Cache-Control the app chose when it already says private or no-store", async () => {
      const request = await start();
      const response = await request("/cached");
      expect(sessionCookie(response)).toBeDefined();
      expect(response.headers.get("cache-control")).toBe("private, max-age=60");
      const noStore = await request(`/cached?cc=${encodeURIComponent("no-cache, No-Store")}`);
      expect(sessionCookie(noStore)).toBeDefined();
      expect(noStore.headers.get("cache-control")).toBe("no-cache, No-Store");
    });

    it("replaces a Cache-Control a shared cache could store with private, no-store when the cookie is set", async () => {
      const request = await start();
      for (const cc of ["public, max-age=300", "max-age=60", 'private="x-user", max-age=60', "no-cache"]) {
        const response = await request(`/cached?cc=${encodeURIComponent(cc)}`);
        expect(sessionCookie(response), cc).toBeDefined();
        expect(response.headers.get("cache-control"), cc).toBe("private, no-store");
      }
    });

    it("sends no Set-Cookie and writes nothing for an untouched session", async () => {
      const request = await start();
      const fresh = await request("/untouched");
      expect(fresh.status).toBe(200);
      expect(fresh.headers.getSetCookie()).toEqual([]);
      expect(fresh.headers.get("cache-control")).toBeNull();
      const cookie = sessionCookie(await request("/set?key=a&value=1"));
      const again = await request("/untouched", { cookie });
      expect(again.headers.getSetCookie()).toEqual([]);
      expect(store.finishedWrites).toHaveLength(1);
    });

    it("gives a new id on login, and the old id loads nothing", async () => {
      const request = await start();
      const before = sessionCookie(await request("/set?key=cart&value=3"));
      const login = await request("/login", { method: "POST", cookie: before });
      const after = sessionCookie(login);
      expect(after).toBeDefined();
      expect(after).not.toBe(before);
      expect(await readJson(await request("/read", { cookie: after }))).toEqual({ cart: "3", user: "alice" });
      const stale = await request("/read", { cookie: before });
      expect(await readJson(stale)).toEqual({});
      expect(store.count()).toBe(1);
    });

    it("expires the cookie on logout and empties the store", async () => {
      const request = await start();
      const cookie = sessionCookie(await request("/set?key=user&value=bob"));
      expect(store.count()).toBe(1);
      const logout = await request("/logout", { method: "POST", cookie });
      expect(logout.status).toBe(200);
      const expired = logout.headers.getSetCookie().find((c) => c.startsWith("sid="));
      expect(expired).toMatch(/^sid=; /);
      expect(expired).toContain("Max-Age=0");
      expect(logout.headers.get("cache-control")).toBe("no-store");
      expect(store.count()).toBe(0);
      expect(await readJson(await request("/read", { cookie }))).toEqual({});
    });

    it("persists every key of 50 overlapping requests on one session", async () => {
      const request = await start();
      const cookie = sessionCookie(await request("/set?key=start&value=0"));
      const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => request(`/set?key=k${i}&value=${i}`, { cookie })));
      expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
      const data = await readJson(await request("/read", { cookie }));
      expect(Object.keys(data)).toHaveLength(51);
      for (let i = 0; i < 50; i++) expect(data[`k${i}`]).toBe(String(i));
    });

    it("finishes the store write before the response arrives", async () => {
      const request = await start();
      store.writeDelayMs = 200;
      const started = performance.now();
      const response = await request("/set?key=slow&value=1");
      const elapsed = performance.now() - started;
      expect(store.finishedWrites).toHaveLength(1);
      expect(elapsed).toBeGreaterThanOrEqual(190);
      expect(sessionCookie(response)).toBeDefined();
    });

    it.each([
      ["a store failure", false],
      ["a synchronous store's failure (a throw, not a rejection)", true],
    ])("turns %s into a 5xx through the framework and keeps serving", async (_name, synchronous) => {
      const request = await start();
      store.synchronous = synchronous;
      const cookie = sessionCookie(await request("/set?key=n&value=1"));
      store.failing = true;
      const loadFails = await request("/read", { cookie });
      expect(loadFails.status).toBeGreaterThanOrEqual(500);
      const commitFails = await request("/set?key=m&value=2");
      expect(commitFails.status).toBeGreaterThanOrEqual(500);
      expect(commitFails.headers.getSetCookie()).toEqual([]);
      expect(errors.map((e) => (e as { code?: string }).code)).toEqual(["ERR_SESSION_STORE", "ERR_SESSION_STORE"]);
      store.failing = false;
      expect(await readJson(await request("/read", { cookie }))).toEqual({ n: "1" });
    });
  });
}

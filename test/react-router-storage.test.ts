/**
 * The React Router SessionStorage contract as sessionkit/react-router implements it, without a
 * server (the built app is in react-router-adapter.test.ts). The adapter imports only types from
 * react-router, so this runs on every supported Node.
 */
import { describe, expect, it } from "vitest";
import type { MiddlewareFunction } from "react-router";
import { createSessionStorage, regenerateSession, sessionCacheControl } from "../src/adapters/react-router.js";
import { SessionStoreError } from "../src/core/errors.js";
import { SessionManager } from "../src/core/manager.js";
import { MemoryStore } from "../src/stores/memory.js";
import { TestStore } from "./support/adapter-suite.js";

interface Data {
  user?: string;
}
interface Flash {
  message?: string;
}

function storage(options: { secure?: boolean } = {}) {
  const store = new TestStore();
  const manager = new SessionManager<Data>({ store, gcInterval: 0 });
  return { store, manager, ...createSessionStorage<Data, Flash>(manager, options) };
}

const pair = (setCookie: string) => setCookie.split(";")[0]!;

describe("createSessionStorage (sessionkit/react-router)", () => {
  it("maps get/set/has/unset/flash onto the sessionkit session, a flash read once", async () => {
    const { getSession, commitSession } = storage();
    const session = await getSession(null);
    session.set("user", "ada");
    session.flash("message", "saved");
    expect(session.has("message")).toBe(true);
    expect(session.data).toEqual({ user: "ada", __flash_message__: "saved" });
    const cookie = pair(await commitSession(session));

    const next = await getSession(cookie);
    expect(next.get("user")).toBe("ada");
    expect(next.get("message")).toBe("saved");
    expect(next.get("message")).toBeUndefined();
    expect(next.has("message")).toBe(false);
    next.unset("user");
    expect(await commitSession(next)).toBe(""); // same id: the browser keeps its cookie

    expect((await getSession(cookie)).data).toEqual({});
  });

  it("id is empty until stored, then a hash that is not the token", async () => {
    const { getSession, commitSession } = storage();
    const session = await getSession(undefined);
    expect(session.id).toBe("");
    session.set("user", "ada");
    const cookie = pair(await commitSession(session));
    const token = cookie.slice("sid=".length);
    const loaded = await getSession(cookie);
    expect(loaded.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(loaded.id).not.toBe(token);
  });

  it("an untouched new session commits to an empty value and stores nothing", async () => {
    const { store, getSession, commitSession } = storage();
    expect(await commitSession(await getSession("sid=unknown"))).toBe("");
    expect(store.count()).toBe(0);
  });

  it("regenerateSession gives a new id and the old one stops loading", async () => {
    const { getSession, commitSession } = storage();
    const session = await getSession(null);
    session.set("user", "ada");
    const before = pair(await commitSession(session));
    const loaded = await getSession(before);
    await regenerateSession(loaded);
    const after = pair(await commitSession(loaded));
    expect(after).not.toBe(before);
    expect((await getSession(after)).get("user")).toBe("ada");
    expect((await getSession(before)).get("user")).toBeUndefined();
  });

  it("destroySession expires the cookie", async () => {
    const { getSession, commitSession, destroySession } = storage();
    const session = await getSession(null);
    session.set("user", "ada");
    const cookie = pair(await commitSession(session));
    expect(await destroySession(await getSession(cookie))).toMatch(/^sid=; Max-Age=0; /);
    expect((await getSession(cookie)).get("user")).toBeUndefined();
  });

  it("the secure option decides Secure for cookie.secure \"auto\"", async () => {
    for (const secure of [true, false]) {
      const { getSession, commitSession } = storage({ secure });
      const session = await getSession(null);
      session.set("user", "ada");
      expect((await commitSession(session)).includes("; Secure")).toBe(secure);
    }
  });

  it("refuses per-call cookie options and sessions it did not make, with TypeErrors that say so", async () => {
    const { getSession, commitSession } = storage();
    const session = await getSession(null);
    await expect(commitSession(session, { maxAge: 60 })).rejects.toThrow(
      new TypeError(
        "sessionkit/react-router takes no per-call cookie options: set them once in new SessionManager({ cookie, idleTimeout, absoluteTimeout })",
      ),
    );
    const foreign = { id: "", data: {}, has: () => false, get: () => undefined, set() {}, flash() {}, unset() {} };
    await expect(commitSession(foreign)).rejects.toThrow(new TypeError("commitSession/destroySession need a session from this storage's getSession()"));
  });

  it("a store failure rejects commitSession with SessionStoreError (the loader or action fails)", async () => {
    const { store, getSession, commitSession } = storage();
    const session = await getSession(null);
    session.set("user", "ada");
    store.failing = true;
    await expect(commitSession(session)).rejects.toBeInstanceOf(SessionStoreError);
  });
});

describe("sessionCacheControl (root middleware)", () => {
  const manager = new SessionManager({ store: new MemoryStore(), gcInterval: 0 });
  const middleware = sessionCacheControl(manager) as MiddlewareFunction<Response>;
  const run = async (response: Response) => (await middleware({} as never, async () => response)) as Response;
  const withCookie = (cacheControl?: string) =>
    new Response("ok", { headers: { "set-cookie": "sid=abc; Path=/", ...(cacheControl ? { "cache-control": cacheControl } : {}) } });

  it("marks a response that sets the session cookie private, no-store", async () => {
    expect((await run(withCookie())).headers.get("cache-control")).toBe("private, no-store");
    expect((await run(withCookie("public, max-age=60"))).headers.get("cache-control")).toBe("private, no-store");
  });

  it("keeps the app's value when it is already private or no-store, and leaves other responses alone", async () => {
    expect((await run(withCookie("private, max-age=60"))).headers.get("cache-control")).toBe("private, max-age=60");
    expect((await run(withCookie("no-store"))).headers.get("cache-control")).toBe("no-store");
    const other = new Response("ok", { headers: { "set-cookie": "theme=dark", "cache-control": "public, max-age=60" } });
    expect((await run(other)).headers.get("cache-control")).toBe("public, max-age=60");
  });
});

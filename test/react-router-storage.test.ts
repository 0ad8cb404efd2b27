/**
 * The React Router SessionStorage contract as sessionkit/react-router implements it, without a
 * server (the built app is in react-router-adapter.test.ts). The adapter imports only types from
 * react-router, so this runs on every supported Node.
 */
import { describe, expect, expectTypeOf, it, vi } from "vitest";
import type { MiddlewareFunction } from "react-router";
import { createSessionStorage, regenerateSession, sessionCacheControl } from "../src/adapters/react-router.js";
import { SessionStoreError } from "../src/core/errors.js";
import { SessionManager } from "../src/core/manager.js";
import { Session } from "../src/core/session.js";
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

  it("the session is sessionkit's too: signIn, userId, handle, superseded, delete, pop, clear, keys", async () => {
    const manager = new SessionManager<Data>({ store: new MemoryStore(), gcInterval: 0 }); // a store that lists by user
    const { getSession, commitSession } = createSessionStorage(manager);
    const session = await getSession(null);
    session.set("user", "ada");
    expect(session.userId).toBeUndefined();
    await session.signIn("ada");
    expect(session.userId).toBe("ada");
    expect(session.handle).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(session.superseded).toBe(false);
    expect(session.isNew).toBe(true);
    expect(session.keys()).toEqual(["user"]);
    const cookie = pair(await commitSession(session));
    const loaded = await getSession(cookie);
    expect(loaded.isNew).toBe(false);
    expect(loaded.userId).toBe("ada");
    expect((await manager.listSessions("ada")).map((info) => info.handle)).toEqual([loaded.handle]);
    expect(loaded.pop("user")).toBe("ada");
    expect(loaded.toJSON()).toEqual({});
    expect(await manager.revokeUser("ada")).toBe(1);
    expect((await getSession(cookie)).userId).toBeUndefined();
  });

  it("every member of sessionkit's Session is on the React Router session, React Router's own winning", async () => {
    const { getSession } = storage();
    const session = await getSession(null);
    const members = [...Reflect.ownKeys(Session.prototype), "isNew"].filter((key) => key !== "constructor");
    const own = Object.getPrototypeOf(session) as object; // the view's class, not Object.prototype's toString
    expect(members.filter((key) => !Object.hasOwn(own, key))).toEqual([]);
    session.set("user", "ada");
    expect(String(session)).toMatch(/^Session \{ handle=\(none yet\) keys=\["user"\] status=modified \}$/); // forwarded toString
    expect(session.id).toBe(""); // React Router's id (a hash once stored), not the token
  });

  it("the data type is the manager's, written once", async () => {
    const { getSession } = createSessionStorage(new SessionManager<Data>({ store: new MemoryStore(), gcInterval: 0 }));
    const session = await getSession(null);
    expectTypeOf(session.get("user")).toEqualTypeOf<string | undefined>();
    expectTypeOf(session.signIn).parameter(0).toEqualTypeOf<string>();
  });

  it("getSession(request): Secure from the URL for \"auto\", and signIn records the user agent", async () => {
    const manager = new SessionManager<Data>({ store: new MemoryStore(), gcInterval: 0 });
    const { getSession, commitSession } = createSessionStorage(manager, { secure: false });
    const session = await getSession(new Request("https://example.test/", { headers: { "user-agent": "phone" } }));
    await session.signIn("grace");
    expect(await commitSession(session)).toContain("; Secure");
    expect((await manager.listSessions("grace"))[0]!.userAgent).toBe("phone");
  });

  it("two different sid cookies load neither, with an ambiguous-cookie event", async () => {
    const events: string[] = [];
    const manager = new SessionManager<Data>({ store: new MemoryStore(), gcInterval: 0, onEvent: (event) => void events.push(event.type) });
    const { getSession, commitSession } = createSessionStorage(manager);
    const cookies: string[] = [];
    for (const user of ["victim", "attacker"]) {
      const session = await getSession(null);
      session.set("user", user);
      cookies.push(pair(await commitSession(session)));
    }
    expect((await getSession(cookies.join("; "))).get("user")).toBeUndefined();
    expect((await getSession(cookies.reverse().join("; "))).get("user")).toBeUndefined();
    expect(events.filter((type) => type === "ambiguous-cookie")).toHaveLength(2);
    expect((await getSession(`${cookies[0]}; ${cookies[0]}`)).get("user")).toBe("attacker"); // the same value twice is not ambiguous
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

  it("marks a response that sets the session cookie by the core rule: no-store, or private, no-store over a shareable value", async () => {
    expect((await run(withCookie())).headers.get("cache-control")).toBe("no-store");
    expect((await run(withCookie("public, max-age=60"))).headers.get("cache-control")).toBe("private, no-store");
    expect((await run(withCookie("public, max-age=60, private-ish"))).headers.get("cache-control")).toBe("private, no-store");
  });

  it("drops the empty Set-Cookie a commitSession of \"\" leaves, keeping the others", async () => {
    const headers = new Headers();
    for (const value of ["", "theme=dark", ""]) headers.append("set-cookie", value);
    const response = await run(new Response("ok", { status: 302, headers }));
    expect(response.headers.getSetCookie()).toEqual(["theme=dark"]);
    expect(response.headers.get("cache-control")).toBeNull();
  });

  it("keeps the app's value when it is already private or no-store, and leaves other responses alone", async () => {
    expect((await run(withCookie("private, max-age=60"))).headers.get("cache-control")).toBe("private, max-age=60");
    expect((await run(withCookie("no-store"))).headers.get("cache-control")).toBe("no-store");
    const other = new Response("ok", { headers: { "set-cookie": "theme=dark", "cache-control": "public, max-age=60" } });
    expect((await run(other)).headers.get("cache-control")).toBe("public, max-age=60");
  });
});

describe("the warning when no sessionCacheControl middleware ran (React Router 7 without future.v8_middleware)", () => {
  // Fresh modules per test: the warning is once per process, and so is the middleware's mark.
  async function fresh() {
    vi.resetModules();
    const adapter = await import("../src/adapters/react-router.js");
    const { SessionManager: Manager } = await import("../src/core/manager.js");
    const manager = new Manager<Data>({ store: new MemoryStore(), gcInterval: 0 });
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    return { adapter, manager, warn, ...adapter.createSessionStorage(manager) };
  }
  const codes = (warn: { mock: { calls: unknown[][] } }) => warn.mock.calls.map((call) => (call[1] as { code?: string } | undefined)?.code);

  it("a cookie committed before the middleware ever ran warns once, naming the middleware and the future flag", async () => {
    const { warn, getSession, commitSession } = await fresh();
    try {
      for (const user of ["ada", "grace"]) {
        const session = await getSession(null);
        session.set("user", user);
        await commitSession(session);
      }
      expect(codes(warn)).toEqual(["SESSIONKIT_REACT_ROUTER_NO_CACHE_CONTROL"]);
      expect(String(warn.mock.calls[0]![0])).toContain("future: { v8_middleware: true }");
      expect(String(warn.mock.calls[0]![0])).toContain("`middleware = [sessionCacheControl(sessions)]` from app/root.tsx");
    } finally {
      warn.mockRestore();
    }
  });

  it("no warning once the middleware runs, nor for a commit that sends no cookie", async () => {
    const { adapter, manager, warn, getSession, commitSession } = await fresh();
    try {
      expect(await commitSession(await getSession(null))).toBe("");
      const middleware = adapter.sessionCacheControl(manager) as MiddlewareFunction<Response>;
      const response = (await middleware({} as never, async () => {
        const session = await getSession(null);
        session.set("user", "ada");
        return new Response("ok", { headers: { "set-cookie": await commitSession(session) } });
      })) as Response;
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(codes(warn)).not.toContain("SESSIONKIT_REACT_ROUTER_NO_CACHE_CONTROL");
    } finally {
      warn.mockRestore();
    }
  });
});

/**
 * One Passport 0.7 app (test/apps/passport/app.ts), run once on express-session and once on
 * sessionkit's express-session compat mode: the same tests pass on both.
 */
import type { Server } from "node:http";
import type { RequestHandler } from "express";
import session from "express-session";
import { afterEach, describe, expect, it } from "vitest";
import { sessionMiddleware } from "../src/adapters/express.js";
import { SessionManager } from "../src/core/manager.js";
import type { SessionStore, SessionWrite, StoredSession } from "../src/core/store.js";
import { MemoryStore } from "../src/stores/memory.js";
import { RedisStore } from "../src/stores/redis.js";
import { createClient } from "redis";
import { randomUUID } from "node:crypto";
import { passportApp } from "./apps/passport/app.js";

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((done) => server.close(done))));
});

async function serve(layer: RequestHandler): Promise<string> {
  const server = passportApp(layer).listen(0, "127.0.0.1");
  servers.push(server);
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as { port: number };
  return `http://127.0.0.1:${port}`;
}

/** A browser's cookie jar for one site, reduced to the one session cookie. */
class Browser {
  cookie: string | undefined;
  constructor(readonly base: string) {}

  async request(method: string, path: string, form?: Record<string, string>): Promise<Response> {
    const headers = new Headers();
    if (this.cookie) headers.set("cookie", this.cookie);
    const body = form ? new URLSearchParams(form) : undefined;
    const response = await fetch(this.base + path, { method, headers, body, redirect: "manual" });
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(";")[0]!;
      const expired = /expires=Thu, 01 Jan 1970/i.test(line) || /max-age=0\b/i.test(line);
      this.cookie = expired ? undefined : pair;
    }
    return response;
  }

  async json(method: string, path: string): Promise<unknown> {
    const response = await this.request(method, path);
    return response.json();
  }
}

const layers: Array<[string, () => RequestHandler]> = [
  ["express-session", () => session({ secret: "a secret of at least thirty-two characters", resave: false, saveUninitialized: false })],
  ["sessionkit compat", () => sessionMiddleware(new SessionManager({ store: new MemoryStore(), gcInterval: 0 }), { compat: "express-session" }) as RequestHandler],
];

describe.each(layers)("Passport 0.7 + passport-local on %s", (_name, makeLayer) => {
  async function browser(): Promise<Browser> {
    return new Browser(await serve(makeLayer()));
  }

  it("signs in with the right password, and req.user is there on the next request", async () => {
    const alice = await browser();
    const login = await alice.request("POST", "/login", { username: "alice", password: "wonderland" });
    expect(login.status).toBe(302);
    expect(login.headers.get("location")).toBe("/me");
    expect(await alice.json("GET", "/me")).toEqual({ user: { id: "alice", name: "Alice" } });
  });

  it("keeps the data across login with keepSessionInfo, under a new id", async () => {
    const alice = await browser();
    await alice.json("GET", "/views");
    const before = alice.cookie;
    await alice.request("POST", "/login-keep", { username: "alice", password: "wonderland" });
    expect(alice.cookie).not.toBe(before);
    expect(await alice.json("GET", "/data")).toEqual({ views: 2 });
    expect(await alice.json("GET", "/me")).toEqual({ user: { id: "alice", name: "Alice" } });
  });

  it("refuses a wrong password", async () => {
    const mallory = await browser();
    const login = await mallory.request("POST", "/login", { username: "alice", password: "guess" });
    expect(login.headers.get("location")).toBe("/login");
    expect((await mallory.request("GET", "/me")).status).toBe(401);
  });

  it("gives a new session id on login, so a planted cookie is not signed in (session fixation)", async () => {
    const victim = await browser();
    await victim.json("GET", "/views"); // a session exists before login
    const planted = victim.cookie;
    expect(planted).toBeDefined();
    await victim.request("POST", "/login", { username: "alice", password: "wonderland" });
    expect(victim.cookie).not.toBe(planted);
    const attacker = new Browser(victim.base);
    attacker.cookie = planted;
    expect((await attacker.request("GET", "/me")).status).toBe(401);
  });

  it("signs out with req.logout(cb): the user is gone, also for the cookie held before", async () => {
    const alice = await browser();
    await alice.request("POST", "/login", { username: "alice", password: "wonderland" });
    const signedIn = alice.cookie;
    const logout = await alice.request("POST", "/logout");
    expect(logout.status).toBe(302);
    expect((await alice.request("GET", "/me")).status).toBe(401);
    const stale = new Browser(alice.base);
    stale.cookie = signedIn;
    expect((await stale.request("GET", "/me")).status).toBe(401);
  });

  it("keeps plain property writes (views++) across requests", async () => {
    const client = await browser();
    expect(await client.json("GET", "/views")).toEqual({ views: 2 });
    expect(await client.json("GET", "/views")).toEqual({ views: 4 });
  });

  it("saves nested objects changed in place (cart.items.push)", async () => {
    const client = await browser();
    await client.json("POST", "/cart?item=apple");
    expect(await client.json("POST", "/cart?item=pear")).toEqual({ items: ["apple", "pear"] });
    expect(await client.json("GET", "/data")).toEqual({ cart: { items: ["apple", "pear"] } });
  });

  it("destroy(cb) removes req.session and the session", async () => {
    const client = await browser();
    await client.json("GET", "/views");
    const held = client.cookie;
    expect(await client.json("POST", "/destroy")).toEqual({ session: null });
    const replay = new Browser(client.base);
    replay.cookie = held;
    expect(await replay.json("GET", "/data")).toEqual({});
  });
});

/** A MemoryStore whose next set() can be held until the test releases it. */
class GatedStore implements SessionStore {
  readonly inner = new MemoryStore();
  sets = 0;
  #held: { reached: () => void; gate: Promise<void> } | undefined;

  /** Holds the next set(); resolves `reached` once it is waiting. */
  holdNextSet(): { reached: Promise<void>; release: () => void } {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reached!: () => void;
    const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
    this.#held = { reached, gate };
    return { reached: reachedPromise, release };
  }

  get(key: string): StoredSession | null {
    return this.inner.get(key);
  }

  async set(key: string, write: SessionWrite): Promise<boolean> {
    this.sets++;
    const held = this.#held;
    this.#held = undefined;
    if (held) {
      held.reached();
      await held.gate;
    }
    return this.inner.set(key, write);
  }

  destroy(key: string): void {
    this.inner.destroy(key);
  }
}

describe.each([
  ["MemoryStore", async () => ({ store: new MemoryStore() as SessionStore, close: async () => {} })],
  ["RedisStore", async () => {
    const client = await createClient({ url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" }).connect();
    const store = new RedisStore({ client, prefix: `passport-${randomUUID()}:` });
    return { store: store as SessionStore, close: async () => void (await client.quit()) };
  }],
])("a Passport login on compat mode is bound to its user (%s)", (_name, makeStore) => {
  it("listSessions shows it, revokeUser ends it, and req.logout unbinds it", async () => {
    const { store, close } = await makeStore();
    const manager = new SessionManager({ store, gcInterval: 0 });
    try {
      const alice = new Browser(await serve(sessionMiddleware(manager, { compat: "express-session" }) as RequestHandler));
      await alice.request("POST", "/login", { username: "alice", password: "wonderland" });
      const listed = await manager.listSessions("alice");
      expect(listed).toHaveLength(1);
      expect(await manager.revokeUser("alice")).toBe(1);
      expect(await alice.json("GET", "/me")).toEqual({ user: null });

      await alice.request("POST", "/login", { username: "alice", password: "wonderland" });
      expect(await manager.listSessions("alice")).toHaveLength(1);
      await alice.request("POST", "/logout");
      expect(await manager.listSessions("alice"), "Passport's logout ends the signed-in session").toEqual([]);
      expect(await alice.json("GET", "/me")).toEqual({ user: null });
    } finally {
      await close();
    }
  });

  it("compatUserId names the user when Passport serializes something else", async () => {
    const { store, close } = await makeStore();
    const manager = new SessionManager({ store, gcInterval: 0 });
    try {
      const compatUserId = (session: Readonly<Record<string, unknown>>) => {
        const user = (session.passport as { user?: string } | undefined)?.user;
        return user ? `account:${user}` : undefined;
      };
      const alice = new Browser(await serve(sessionMiddleware(manager, { compat: "express-session", compatUserId }) as RequestHandler));
      await alice.request("POST", "/login", { username: "alice", password: "wonderland" });
      expect(await manager.listSessions("account:alice")).toHaveLength(1);
    } finally {
      await close();
    }
  });
});

describe("express-session compat mode, sessionkit specifics", () => {
  async function start(): Promise<{ store: GatedStore; client: Browser }> {
    const store = new GatedStore();
    const manager = new SessionManager({ store, gcInterval: 0 });
    const base = await serve(sessionMiddleware(manager, { compat: "express-session" }) as RequestHandler);
    return { store, client: new Browser(base) };
  }

  it("B commits while A's write is held: A's in-place cart push and B's in-place theme change both survive", async () => {
    const { store, client } = await start();
    await client.json("POST", "/cart?item=apple");
    await client.json("POST", "/theme?theme=light");
    const hold = store.holdNextSet();
    const requestA = client.json("POST", "/cart?item=pear"); // reads prefs too, changes only cart
    await hold.reached;
    expect(await client.json("POST", "/theme?theme=dark")).toEqual({ theme: "dark" });
    hold.release();
    expect(await requestA).toEqual({ items: ["apple", "pear"], theme: "light" });
    expect(await client.json("GET", "/data")).toEqual({ cart: { items: ["apple", "pear"] }, prefs: { theme: "dark" } });
  });

  it("writes nothing for a request that only reads nested objects", async () => {
    const { store, client } = await start();
    await client.json("POST", "/cart?item=apple");
    const before = store.sets;
    expect(await client.json("GET", "/data")).toEqual({ cart: { items: ["apple"] } });
    expect(store.sets).toBe(before);
  });

  it("rejects an unknown compat value at construction", () => {
    const manager = new SessionManager({ store: new MemoryStore(), gcInterval: 0 });
    expect(() => sessionMiddleware(manager, { compat: "cookie-session" as "express-session" })).toThrow(
      new TypeError('option "compat" accepts only "express-session"'),
    );
  });
});

describe("express-session compat mode, the methods", () => {
  async function run(handler: RequestHandler, cookie?: string): Promise<{ body: unknown; cookie: string | undefined }> {
    const manager = new SessionManager({ store: sharedStore, gcInterval: 0 });
    const app = (await import("express")).default();
    app.use(sessionMiddleware(manager, { compat: "express-session" }) as RequestHandler);
    app.use(handler);
    const server = app.listen(0, "127.0.0.1");
    servers.push(server);
    await new Promise((resolve) => server.once("listening", resolve));
    const { port } = server.address() as { port: number };
    const response = await fetch(`http://127.0.0.1:${port}/`, { headers: cookie ? { cookie } : {} });
    const setCookie = response.headers.getSetCookie()[0]?.split(";")[0];
    return { body: await response.json(), cookie: setCookie ?? cookie };
  }
  const sharedStore = new MemoryStore();
  type View = Record<string, unknown> & {
    id: string;
    cookie: { expires: Date; maxAge: number };
    regenerate(cb: (error?: unknown) => void): void;
    reload(cb: (error?: unknown) => void): void;
    touch(): unknown;
  };
  const view = (req: { session: unknown }) => req.session as View;

  it("regenerate(cb) gives a new id and empty data, as express-session's does", async () => {
    const first = await run((req, res) => {
      view(req).note = "before";
      res.json({ id: view(req).id });
    });
    const second = await run((req, res) => {
      const oldId = view(req).id;
      view(req).regenerate((error) => {
        res.json({ error: error ?? null, changed: view(req).id !== oldId, note: view(req).note ?? null, keys: Object.keys(view(req)) });
      });
    }, first.cookie);
    expect(second.body).toEqual({ error: null, changed: true, note: null, keys: [] });
    expect(second.cookie).not.toBe(first.cookie);
  });

  it("reload(cb) drops this request's unsaved changes; id and methods cannot be overwritten", async () => {
    const first = await run((req, res) => {
      view(req).note = "stored";
      res.json({});
    });
    const second = await run((req, res) => {
      const session = view(req);
      session.note = "changed, not saved";
      let idWrite = "allowed";
      try {
        session.id = "chosen-by-attacker";
      } catch (error) {
        idWrite = (error as Error).constructor.name;
      }
      session.reload((error) => {
        res.json({ error: error ?? null, note: session.note, idWrite, touch: session.touch() === session, expiresInFuture: session.cookie.expires > new Date() });
      });
    }, first.cookie);
    expect(second.body).toEqual({ error: null, note: "stored", idWrite: "TypeError", touch: true, expiresInFuture: true });
  });

  it("a stored __proto__ key does not become the prototype of Object.assign or for-in copies (issue 31)", async () => {
    // A record with an own "__proto__" data key, as a careless or hostile write leaves it.
    const writer = new SessionManager({ store: sharedStore, gcInterval: 0 });
    const planted = await writer.load();
    planted.set("__proto__" as never, { isAdmin: true } as never);
    planted.set("name" as never, "mallory" as never);
    const first = { cookie: (await writer.commit(planted))[0]!.split(";")[0] };
    const second = await run((req, res) => {
      const assigned = Object.assign({}, view(req)) as Record<string, unknown>;
      const copied: Record<string, unknown> = {};
      for (const key in view(req)) copied[key] = view(req)[key];
      const spread = { ...view(req) } as Record<string, unknown>;
      res.json({
        assigned: [assigned.isAdmin ?? null, Object.getPrototypeOf(assigned) === Object.prototype, assigned.name],
        copied: [copied.isAdmin ?? null, Object.getPrototypeOf(copied) === Object.prototype, copied.name],
        spread: [spread.isAdmin ?? null, spread.name],
      });
    }, first.cookie);
    expect(second.body).toEqual({ assigned: [null, true, "mallory"], copied: [null, true, "mallory"], spread: [null, "mallory"] });
  });
});

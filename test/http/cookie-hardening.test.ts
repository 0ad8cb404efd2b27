/**
 * The session cookie against planted duplicates (cookie tossing from a sibling subdomain) and
 * against going out without Secure in production, through real servers on 127.0.0.1.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import express from "express";
import { Hono } from "hono";
import type { MockInstance } from "vitest";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { sessionMiddleware as expressSessions } from "../../src/adapters/express.js";
import type { SessionVariables } from "../../src/adapters/hono.js";
import { sessionMiddleware as honoSessions } from "../../src/adapters/hono.js";
import type { SessionManagerOptions } from "../../src/core/options.js";
import { MemoryStore } from "../../src/stores/memory.js";

type Manager = import("../../src/core/manager.js").SessionManager<Record<string, unknown>>;

let warn: MockInstance<typeof process.emitWarning>;
const closers: Array<() => Promise<void>> = [];

beforeEach(() => {
  warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
});
afterEach(async () => {
  warn.mockRestore();
  vi.unstubAllEnvs();
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** A manager from a fresh module graph, so each test sees the once-per-process warnings anew. */
async function freshManager(options: Partial<SessionManagerOptions> = {}): Promise<Manager> {
  vi.resetModules();
  const { SessionManager } = await import("../../src/core/manager.js");
  return new SessionManager<Record<string, unknown>>({ store: new MemoryStore(), gcInterval: 0, ...options });
}

function warningsWith(code: string): unknown[][] {
  return warn.mock.calls.filter((call) => (call[1] as { code?: string } | undefined)?.code === code);
}

/** Express 5: /login?user= signs a user in, /whoami shows the session data. */
async function expressApp(manager: Manager, configure?: (app: express.Express) => void): Promise<string> {
  const app = express();
  configure?.(app);
  app.use(expressSessions(manager));
  app.get("/login", (req, res) => {
    req.session.set("user", String(req.query.user));
    res.send("ok");
  });
  app.get("/whoami", (req, res) => {
    res.json(req.session.toJSON());
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  closers.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The same routes on Hono and @hono/node-server: the Fetch path (loadRequest). */
async function honoApp(manager: Manager): Promise<string> {
  const app = new Hono<{ Variables: SessionVariables }>();
  app.use(honoSessions(manager));
  app.get("/login", (c) => {
    c.get("session").set("user", c.req.query("user"));
    return c.text("ok");
  });
  app.get("/whoami", (c) => c.json(c.get("session").toJSON()));
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info: AddressInfo) => {
      closers.push(() => new Promise((done) => server.close(() => done())));
      resolve(`http://127.0.0.1:${info.port}`);
    });
  });
}

async function login(base: string, user: string, name = "sid"): Promise<string> {
  const response = await fetch(`${base}/login?user=${user}`);
  const line = response.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
  if (!line) throw new Error(`no ${name} cookie in ${JSON.stringify(response.headers.getSetCookie())}`);
  return line.split(";")[0]!.slice(name.length + 1);
}

async function whoami(base: string, cookie: string): Promise<{ body: unknown; setCookies: string[] }> {
  const response = await fetch(`${base}/whoami`, { headers: { cookie } });
  expect(response.status).toBe(200);
  return { body: await response.json(), setCookies: response.headers.getSetCookie() };
}

describe("a request with more than one cookie of the session's name", () => {
  for (const [framework, start] of [["Express (start)", expressApp], ["Hono (loadRequest)", honoApp]] as const) {
    it(`${framework}: loads neither session, and warns once per process`, async () => {
      const base = await start(await freshManager());
      const attacker = await login(base, "mallory");
      const victim = await login(base, "alice");
      expect((await whoami(base, `sid=${victim}`)).body).toEqual({ user: "alice" });
      // A Domain=.example.com; Path=/app cookie planted from a sibling subdomain is sent first.
      for (const header of [`sid=${attacker}; sid=${victim}`, `sid=${victim}; other=1; sid=${attacker}`]) {
        const { body } = await whoami(base, header);
        expect(body, header).toEqual({});
      }
      const warnings = warningsWith("SESSIONKIT_AMBIGUOUS_COOKIE");
      expect(warnings).toHaveLength(1);
      expect(String(warnings[0]![0])).toMatch(/more than one "sid" cookie.*__Host-/);
      // The victim's own session is untouched, for when the planted cookie is gone.
      expect((await whoami(base, `sid=${victim}`)).body).toEqual({ user: "alice" });
    });
  }

  // Issue 31: a planted value that does not verify is junk; it neither signs the user out nor
  // earns a fresh session whose Set-Cookie would overwrite the user's own cookie.
  for (const [framework, start] of [["Express (start)", expressApp], ["Hono (loadRequest)", honoApp]] as const) {
    it(`${framework}: a junk duplicate (malformed, forged, unknown) is ignored and the user's session loads`, async () => {
      const events: string[] = [];
      const base = await start(await freshManager({ onEvent: (event) => events.push(event.type) }));
      const victim = await login(base, "alice");
      const unknown = "A".repeat(43); // well formed, in no store
      for (const junk of ["x", unknown, `${victim.slice(0, -2)}AA`]) {
        for (const header of [`sid=${junk}; sid=${victim}`, `sid=${victim}; sid=${junk}`]) {
          const { body, setCookies } = await whoami(base, header);
          expect(body, header).toEqual({ user: "alice" });
          expect(setCookies, header).toEqual([]);
        }
      }
      expect(events.filter((type) => type === "ambiguous-cookie")).toEqual([]);
      // And a page that writes updates the user's own session, with no new cookie.
      const write = await fetch(`${base}/login?user=alice2`, { headers: { cookie: `sid=x; sid=${victim}` } });
      expect(write.headers.getSetCookie()).toEqual([]);
      expect((await whoami(base, `sid=${victim}`)).body).toEqual({ user: "alice2" });
    });
  }

  it("signed ids and cookie sessions: junk beside a valid cookie is ignored, two valid ones are ambiguous", async () => {
    const { CookieStore } = await import("../../src/stores/cookie.js");
    const secret = "Yb0q7TQm2v9sK1xW4pLr8cNf6hJd3uZa";
    for (const options of [{ secrets: [secret] }, { store: new CookieStore({ secrets: [secret] }) }] as Partial<SessionManagerOptions>[]) {
      const events: string[] = [];
      const base = await expressApp(await freshManager({ ...options, onEvent: (event) => events.push(event.type) }));
      const victim = await login(base, "alice");
      const attacker = await login(base, "mallory");
      const forged = `${victim.slice(0, 10)}${victim[10] === "A" ? "B" : "A"}${victim.slice(11)}`;
      expect((await whoami(base, `sid=${forged}; sid=${victim}`)).body).toEqual({ user: "alice" });
      expect(events).not.toContain("ambiguous-cookie");
      expect((await whoami(base, `sid=${attacker}; sid=${forged}; sid=${victim}`)).body).toEqual({});
      expect(events).toContain("ambiguous-cookie");
    }
  });

  it("more than 8 different values load none without reading the store more than 8 times", async () => {
    const { MAX_CANDIDATES } = await import("../../src/core/cookie-candidates.js");
    const store = new MemoryStore();
    let reads = 0;
    const get = store.get.bind(store);
    store.get = (...args: Parameters<MemoryStore["get"]>) => (reads++, get(...args));
    const base = await expressApp(await freshManager({ store }));
    const victim = await login(base, "alice");
    const junk = Array.from({ length: MAX_CANDIDATES }, (_, i) => `sid=${String(i).padStart(43, "A")}`);
    reads = 0;
    expect((await whoami(base, `${junk.slice(1).join("; ")}; sid=${victim}`)).body).toEqual({ user: "alice" });
    expect(reads).toBe(MAX_CANDIDATES);
    reads = 0;
    expect((await whoami(base, `${junk.join("; ")}; sid=${victim}`)).body).toEqual({});
    expect(reads).toBe(0);
  });

  it("the same value twice, or an empty one beside it, is not ambiguous: it loads, without a warning", async () => {
    const base = await expressApp(await freshManager());
    const victim = await login(base, "alice");
    expect((await whoami(base, `sid=${victim}; sid=${victim}`)).body).toEqual({ user: "alice" });
    expect((await whoami(base, `sid=; sid=${victim}; sid=`)).body).toEqual({ user: "alice" });
    expect(warningsWith("SESSIONKIT_AMBIGUOUS_COOKIE")).toHaveLength(0);
  });

  it("a similar name is another cookie (no duplicate): xsid, sid2, Sid", async () => {
    const base = await expressApp(await freshManager());
    const victim = await login(base, "alice");
    expect((await whoami(base, `xsid=1; sid2=2; Sid=3; sid=${victim}; a=sid=4`)).body).toEqual({ user: "alice" });
    expect(warningsWith("SESSIONKIT_AMBIGUOUS_COOKIE")).toHaveLength(0);
  });
});

describe("the default cookie name", () => {
  it('is __Host-sid when cookie.secure is true (a sibling subdomain cannot set or shadow it)', async () => {
    const base = await expressApp(await freshManager({ cookie: { secure: true } }));
    const response = await fetch(`${base}/login?user=alice`);
    expect(response.headers.getSetCookie()[0]).toMatch(/^__Host-sid=[^;]+; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
  });

  it('stays "sid" for secure "auto", and when a domain or path rules out __Host-', async () => {
    expect((await freshManager()).tokenName).toBe("sid");
    expect((await freshManager({ cookie: { secure: true, domain: "example.com" } })).tokenName).toBe("sid");
    expect((await freshManager({ cookie: { secure: true, path: "/app" } })).tokenName).toBe("sid");
    expect((await freshManager({ cookie: { secure: true, name: "app_session" } })).tokenName).toBe("app_session");
  });
});

describe('secure: "auto" behind a TLS-terminating proxy', () => {
  it("in production, a session cookie going out without Secure gives one warning that says how to fix it", async () => {
    vi.stubEnv("NODE_ENV", "production");
    const base = await expressApp(await freshManager()); // no app.set("trust proxy"): req.secure is false
    for (const user of ["alice", "bob"]) {
      const response = await fetch(`${base}/login?user=${user}`, { headers: { "x-forwarded-proto": "https" } });
      expect(response.headers.getSetCookie()[0]).not.toMatch(/Secure/);
    }
    const warnings = warningsWith("SESSIONKIT_INSECURE_COOKIE");
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]![0])).toMatch(/without Secure.*trust proxy.*secure: true/);
  });

  it("no warning once the proxy is trusted (Secure is set), nor outside production", async () => {
    vi.stubEnv("NODE_ENV", "production");
    const trusted = await expressApp(await freshManager(), (app) => app.set("trust proxy", "loopback"));
    const response = await fetch(`${trusted}/login?user=alice`, { headers: { "x-forwarded-proto": "https" } });
    expect(response.headers.getSetCookie()[0]).toMatch(/; Secure/);
    vi.stubEnv("NODE_ENV", "development");
    const plain = await expressApp(await freshManager());
    expect((await fetch(`${plain}/login?user=alice`)).headers.getSetCookie()[0]).not.toMatch(/Secure/);
    expect(warningsWith("SESSIONKIT_INSECURE_COOKIE")).toHaveLength(0);
  });
});

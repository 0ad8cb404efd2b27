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

/**
 * The guarantees every adapter owes (issue 27, "What must hold"), each one case run against every
 * target of targets.ts by guarantees.test.ts, and each one column of the matrix in docs/adapters.md.
 */
import { expect } from "vitest";
import type { SessionEventType } from "../../src/core/events.js";
import type { SessionManagerOptions } from "../../src/core/options.js";
import type { FailingStore } from "./app.js";
import { everyMemberReport } from "../support/session-api.js";

export interface CaseContext {
  request(method: string, path: string, options?: { cookie?: string; headers?: Record<string, string> }): Promise<Response>;
  store: FailingStore;
  events: SessionEventType[];
}

export interface GuaranteeCase {
  id: string;
  /** The column heading in the matrix. */
  title: string;
  /** Options of this case's manager, over `{ store, gcInterval: 0 }`. */
  options?: Partial<SessionManagerOptions>;
  run(context: CaseContext): Promise<void>;
}

/** The `name=value` pair of the session cookie a response sets, or undefined. */
export function sessionCookie(response: Response, name = "sid"): string | undefined {
  return setCookieLine(response, name)?.split(";")[0];
}

function setCookieLine(response: Response, name = "sid"): string | undefined {
  return response.headers.getSetCookie().find((line) => line.startsWith(`${name}=`));
}

async function json(response: Response): Promise<Record<string, unknown>> {
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

const signedOut = { data: {}, userId: null };

/** Why a target or app without requireFresh skips the step-up case (the README's advice for them). */
export const isFreshInHandler = (adapter: string) => `${adapter} has no requireFresh: the handler checks session.isFresh`;

/** The step-up case: its manager's clock, which the case moves past requireFresh's window. */
function requireFreshCase(): GuaranteeCase {
  let now = Date.now();
  return {
    id: "require-fresh",
    title: "step-up: `requireFresh` stops a stale sign-in (401)",
    options: { now: () => now },
    async run({ request }) {
      now = Date.now();
      let cookie = sessionCookie(await request("POST", "/sign-in?user=ada"));
      const sensitive = () => request("POST", "/sensitive", { cookie });
      expect((await sensitive()).status, "just signed in: fresh").toBe(200);
      now += 11 * 60_000;
      expect((await sensitive()).status, "eleven minutes later: stale").toBe(401);
      const confirm = await request("POST", "/reauthenticate", { cookie });
      expect(confirm.status).toBe(200);
      cookie = sessionCookie(confirm) ?? cookie; // reauthenticated rotates the id
      expect((await sensitive()).status, "fresh again after reauthentication").toBe(200);
      expect((await request("POST", "/sensitive")).status, "signed out: never fresh").toBe(401);
    },
  };
}

export const cases: GuaranteeCase[] = [
  {
    id: "flags",
    title: "HttpOnly, SameSite=Lax, Path=/",
    async run({ request }) {
      const response = await request("POST", "/count");
      const lines = response.headers.getSetCookie();
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^sid=[A-Za-z0-9_-]{43}; /);
      const attributes = lines[0]!.split("; ").slice(1);
      expect(attributes).toEqual(expect.arrayContaining(["HttpOnly", "SameSite=Lax", "Path=/"]));
      expect(attributes).not.toContain("Secure"); // plain http under "auto"
    },
  },
  {
    id: "secure-auto",
    title: 'Secure over https ("auto", trusted X-Forwarded-Proto)',
    async run({ request }) {
      const response = await request("POST", "/count", { headers: { "x-forwarded-proto": "https" } });
      expect(setCookieLine(response)?.split("; ")).toContain("Secure");
    },
  },
  {
    id: "host-prefix",
    title: "`__Host-sid`, Secure with `cookie.secure: true`",
    options: { cookie: { secure: true, name: "__Host-sid" } },
    async run({ request }) {
      const response = await request("POST", "/count", { headers: { "x-forwarded-proto": "https" } });
      const attributes = setCookieLine(response, "__Host-sid")?.split("; ").slice(1);
      expect(attributes).toEqual(expect.arrayContaining(["Secure", "Path=/", "HttpOnly"]));
      expect(attributes?.some((attribute) => attribute.startsWith("Domain="))).toBe(false);
      const cookie = sessionCookie(response, "__Host-sid");
      expect(await json(await request("GET", "/read", { cookie, headers: { "x-forwarded-proto": "https" } }))).toEqual({ data: { n: 1 }, userId: null });
    },
  },
  {
    id: "cache-control",
    title: "no-store on every response with the cookie",
    async run({ request }) {
      const count = await request("POST", "/count");
      const cookie = sessionCookie(count);
      const responses = [count, await request("GET", "/public"), await request("POST", "/sign-in?user=ada", { cookie })];
      responses.push(await request("POST", "/sign-out", { cookie: sessionCookie(responses[2]!) }));
      for (const response of responses) expect(response.headers.getSetCookie()).toHaveLength(1);
      // No value of the app's: no-store. The app's shareable "public, max-age=300": private, no-store.
      expect(responses.map((response) => response.headers.get("cache-control"))).toEqual(["no-store", "private, no-store", "no-store", "no-store"]);
    },
  },
  {
    id: "ambiguous",
    title: "two session cookies load neither (`ambiguous-cookie`)",
    async run({ request, events }) {
      const victim = sessionCookie(await request("POST", "/count"));
      const attacker = sessionCookie(await request("POST", "/count"));
      await request("POST", "/count", { cookie: attacker });
      for (const cookie of [`${victim}; ${attacker}`, `${attacker}; ${victim}`]) {
        expect(await json(await request("GET", "/read", { cookie }))).toEqual(signedOut);
      }
      expect(events.filter((type) => type === "ambiguous-cookie")).toHaveLength(2);
      const write = await request("POST", "/count", { cookie: `${victim}; ${attacker}` });
      expect(await json(write)).toEqual({ n: 1 });
      expect([victim, attacker]).not.toContain(sessionCookie(write));
    },
  },
  {
    id: "superseded",
    title: "a superseded commit sends no cookie (sign-in racing sign-out)",
    async run({ request, store }) {
      // Unraced, a sign-in sends the new id's cookie: its absence below means something.
      expect(sessionCookie(await request("POST", "/sign-in?user=ada", { cookie: sessionCookie(await request("POST", "/count")) }))).toBeDefined();
      const cookie = sessionCookie(await request("POST", "/count"));
      // A's sign-in is held at its first store write; B signs out meanwhile; then A goes on and
      // finds the session it rotates gone.
      const gate = store.hold("set");
      const signingIn = request("POST", "/sign-in?user=ada", { cookie });
      await gate.reached;
      const signOut = await request("POST", "/sign-out", { cookie });
      expect(setCookieLine(signOut)).toMatch(/^sid=; /);
      gate.release();
      const late = await signingIn;
      expect(late.status).toBeLessThan(500);
      expect(late.headers.getSetCookie()).toEqual([]);
      expect(await json(await request("GET", "/read", { cookie }))).toEqual(signedOut);
    },
  },
  {
    id: "store-failure",
    title: "a store failure: 5xx, no cookie",
    async run({ request, store }) {
      const cookie = sessionCookie(await request("POST", "/count"));
      store.failing = true;
      for (const failed of [await request("POST", "/count", { cookie }), await request("POST", "/count")]) {
        expect(failed.status).toBeGreaterThanOrEqual(500);
        expect(failed.headers.getSetCookie()).toEqual([]);
      }
      store.failing = false;
      expect(await json(await request("GET", "/read", { cookie }))).toEqual({ data: { n: 1 }, userId: null });
    },
  },
  {
    id: "revoke-user",
    title: "sign-in → listSessions → revokeUser ends the session",
    async run({ request }) {
      const laptop = sessionCookie(await request("POST", "/sign-in?user=ada"));
      const phone = sessionCookie(await request("POST", "/sign-in?user=ada"));
      expect(await json(await request("GET", "/read", { cookie: phone }))).toMatchObject({ userId: "ada" });
      const handles = (await (await request("GET", "/sessions", { cookie: laptop })).json()) as string[];
      expect(handles).toHaveLength(2);
      expect(await json(await request("POST", "/revoke-user", { cookie: laptop }))).toEqual({ revoked: 2 });
      for (const cookie of [phone, laptop]) expect(await json(await request("GET", "/read", { cookie }))).toEqual(signedOut);
    },
  },
  {
    id: "api",
    title: "the whole Session API",
    async run({ request }) {
      const response = await request("POST", "/api");
      const report = await json(response);
      expect(report).toEqual(everyMemberReport("ada"));
      const cookie = sessionCookie(response);
      expect(await json(await request("GET", "/read", { cookie }))).toEqual({ data: { kept: true }, userId: "ada" });
      expect(await (await request("GET", "/sessions", { cookie })).json()).toEqual([report.handle]);
      const signOut = await request("POST", "/sign-out", { cookie });
      expect(setCookieLine(signOut)).toMatch(/^sid=; .*Max-Age=0/);
      expect(await json(await request("GET", "/read", { cookie }))).toEqual(signedOut);
    },
  },
  requireFreshCase(),
];

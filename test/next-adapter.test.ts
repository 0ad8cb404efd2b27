/**
 * sessionkit/next in a real Next.js App Router app (test/apps/next), built with `next build` and
 * served by `next start` on 127.0.0.1, driven with fetch as a browser without JavaScript would:
 * the sign-in form posts to its Server Action, pages are Server Components, sign-out is a Route
 * Handler, /private is guarded by proxy.ts. The app has `cacheComponents: true`, as
 * create-next-app 16 makes it, and keeps its manager on globalThis as docs/adapters.md does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appDir, binOf, buildApp, type ServedApp, serveApp, sparePort } from "./support/framework-app.js";
import { everyMemberReport } from "./support/session-api.js";

const dir = appDir("next");
let app: ServedApp;

beforeAll(async () => {
  await buildApp(dir, binOf("next"), ["build"]);
  const port = await sparePort();
  app = await serveApp(dir, binOf("next"), ["start", "-H", "127.0.0.1", "-p", String(port)], `http://127.0.0.1:${port}/`);
}, 300_000);

afterAll(() => app?.stop());

const get = (path: string, cookie?: string, headers: Record<string, string> = {}) =>
  fetch(app.url + path.slice(1), { headers: cookie ? { cookie, ...headers } : headers, redirect: "manual" });
const post = (path: string, cookie?: string, body?: FormData | string) =>
  fetch(app.url + path.slice(1), { method: "POST", headers: cookie ? { cookie } : {}, body, redirect: "manual" });

function sidCookie(response: Response): string | undefined {
  return response.headers.getSetCookie().find((line) => line.startsWith("sid="));
}

async function textOf(response: Response, id: string): Promise<string | undefined> {
  const html = await response.text();
  return new RegExp(`<p id="${id}"[^>]*>([^<]*)</p>`).exec(html)?.[1];
}

/** Submits the sign-in form the way a browser without JavaScript does: to its Server Action. */
async function signIn(user: string, cookie?: string, userAgent?: string): Promise<Response> {
  const form = await (await get("/sign-in", cookie)).text();
  const actionField = /name="(\$ACTION_ID_[0-9a-f]+)"/.exec(form)?.[1];
  expect(actionField, "the form carries its Server Action id").toBeDefined();
  const body = new FormData();
  body.set(actionField!, "");
  body.set("user", user);
  const headers: Record<string, string> = { ...(cookie ? { cookie } : {}), ...(userAgent ? { "user-agent": userAgent } : {}) };
  return fetch(app.url + "sign-in", { method: "POST", headers, body, redirect: "manual" });
}

async function signedInCookie(user: string, userAgent?: string): Promise<string> {
  const cookie = sidCookie(await signIn(user, undefined, userAgent));
  expect(cookie).toBeDefined();
  return cookie!.split(";")[0]!;
}

describe("sessionkit/next in a built Next.js app (next start)", () => {
  it("a visitor without a session reads as signed out and gets no cookie", async () => {
    const response = await get("/");
    expect(response.status).toBe(200);
    expect(await textOf(response, "user")).toBe("signed out");
    expect(sidCookie(response)).toBeUndefined();
  });

  it("signs in through a Server Action, and a Server Component reads the session", async () => {
    const response = await signIn("ada");
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/");
    const setCookie = sidCookie(response)!;
    // Every attribute the core decides reaches the browser through cookies().set.
    expect(setCookie).toMatch(/^sid=[A-Za-z0-9_-]{43}; /);
    expect(setCookie).toMatch(/; Max-Age=86400(;|$)/);
    expect(setCookie).toMatch(/; Path=\/(;|$)/);
    expect(setCookie).toMatch(/; HttpOnly(;|$)/);
    expect(setCookie).toMatch(/; SameSite=lax(;|$)/i);
    expect(setCookie).not.toMatch(/; Secure/i);
    // Not storable by a shared cache (RFC 9111 section 5.2.2.5).
    expect(response.headers.get("cache-control")).toMatch(/no-store/);

    const page = await get("/", setCookie.split(";")[0]);
    expect(await textOf(page, "user")).toBe("signed in as ada");
    expect(sidCookie(page)).toBeUndefined();
  });

  it("signing in regenerates the id: the cookie from before sign-in stops loading", async () => {
    const before = sidCookie(await post("/api/visits"))!.split(";")[0]!;
    const after = sidCookie(await signIn("grace", before))!.split(";")[0]!;
    expect(after).not.toBe(before);
    expect(await textOf(await get("/", after), "user")).toBe("signed in as grace");
    expect(await textOf(await get("/", before), "user")).toBe("signed out");
  });

  it("a Route Handler writes with save(): the cookie is sent once, the data persists", async () => {
    const first = await post("/api/visits");
    expect(await first.json()).toEqual({ visits: 1 });
    const cookie = sidCookie(first)!.split(";")[0]!;
    const second = await post("/api/visits", cookie);
    expect(await second.json()).toEqual({ visits: 2 });
    expect(sidCookie(second)).toBeUndefined(); // same id: nothing to re-send
  });

  it("withSession: a GET Route Handler's response that carries the cookie is private, no-store; one without keeps its own", async () => {
    const first = await get("/api/visits");
    expect(sidCookie(first)).toBeDefined();
    expect(first.headers.get("cache-control")).toBe("private, no-store"); // the handler said public, max-age=60
    const second = await get("/api/visits", sidCookie(first)!.split(";")[0]);
    expect(await second.json()).toEqual({ visits: 2 });
    expect(sidCookie(second)).toBeUndefined();
    expect(second.headers.get("cache-control")).toBe("public, max-age=60");
  });

  it("Secure over https: a request forwarded as https (x-forwarded-proto) gets a Secure cookie", async () => {
    const forwarded = await fetch(`${app.url}api/visits`, { method: "POST", headers: { "x-forwarded-proto": "https" } });
    expect(sidCookie(forwarded)?.split("; ")).toContain("Secure");
    expect(sidCookie(await post("/api/visits"))?.split("; ")).not.toContain("Secure"); // plain http under "auto"
  });

  it("cookie.secure: true with the name __Host-sid: Secure, Path=/, no Domain, and it loads back", async () => {
    const response = await post("/api/host");
    const line = response.headers.getSetCookie().find((cookie) => cookie.startsWith("__Host-sid="));
    const attributes = line?.split("; ").slice(1);
    expect(attributes).toEqual(expect.arrayContaining(["Secure", "Path=/", "HttpOnly"]));
    expect(attributes?.some((attribute) => attribute.startsWith("Domain="))).toBe(false);
    expect(response.headers.get("cache-control")).toMatch(/no-store/);
    expect(await (await get("/api/host", line!.split(";")[0])).json()).toEqual({ visits: 1 });
  });

  it("a sign-in superseded by a sign-out meanwhile sends no cookie: the user stays signed out", async () => {
    const cookie = sidCookie(await post("/api/visits"))!.split(";")[0]!;
    // The interleaving is forced, not timed: the app's store holds its next write on a GatedStore
    // barrier (app/api/store/route.ts). The Route Handler's signIn parks there, after loading the
    // session; the sign-out runs to the end meanwhile; then the sign-in goes on, finding the session
    // it rotates gone.
    await post("/api/store", undefined, "hold");
    const signingIn = post("/api/sign-in?user=mallory", cookie);
    await post("/api/store", undefined, "reached");
    const signOut = await post("/sign-out", cookie);
    expect(sidCookie(signOut)).toMatch(/^sid=;/);
    await post("/api/store", undefined, "release");
    const late = await signingIn;
    expect(await late.json()).toEqual({ userId: null, superseded: true });
    expect(sidCookie(late)).toBeUndefined();
    expect(await textOf(await get("/", cookie), "user")).toBe("signed out");
    // Unraced, a sign-in over a live session sends the new id's cookie: its absence above means something.
    const live = sidCookie(await post("/api/visits"))!.split(";")[0]!;
    expect(sidCookie(await post("/api/sign-in?user=mallory", live))).toBeDefined();
  });

  it("two different sid cookies load neither: a fresh session and an ambiguous-cookie event", async () => {
    const victim = await signedInCookie("victim");
    const attacker = await signedInCookie("attacker");
    const events = async () => ((await (await get("/api/touches")).json()) as { events: string[] }).events.filter((type) => type === "ambiguous-cookie").length;
    const before = await events();
    for (const cookie of [`${victim}; ${attacker}`, `${attacker}; ${victim}`]) {
      expect(await textOf(await get("/", cookie), "user")).toBe("signed out");
      expect((await get("/private", cookie)).status).toBe(307);
    }
    const write = await post("/api/visits", `${victim}; ${attacker}`);
    expect(await write.json()).toEqual({ visits: 1 }); // a new session, not either of the two
    expect([victim, attacker]).not.toContain(sidCookie(write)!.split(";")[0]);
    expect(await events()).toBe(before + 3);
    expect(await textOf(await get("/", victim), "user")).toBe("signed in as victim");
  });

  it("signIn, userId, handle and the per-user calls work from a Server Action and Route Handlers", async () => {
    const phone = await signedInCookie("alan", "phone");
    const laptop = await signedInCookie("alan", "laptop");
    const devices = await get("/api/devices", laptop);
    expect(await devices.json()).toEqual({
      userId: "alan",
      devices: [
        { userAgent: "laptop", current: true },
        { userAgent: "phone", current: false },
      ],
    });
    const revoked = await post("/api/sign-out-others", laptop);
    expect(await revoked.json()).toEqual({ revoked: 1 });
    expect(await textOf(await get("/", phone), "user")).toBe("signed out");
    expect(await textOf(await get("/", laptop), "user")).toBe("signed in as alan");
    expect((await get("/api/devices", phone)).status).toBe(401);
  });

  it("the NextSession is the whole Session: every member works from a Route Handler", async () => {
    const response = await post("/api/every-member?user=kristen");
    const report = (await response.json()) as Record<string, unknown>;
    expect(report).toEqual(everyMemberReport("kristen"));
    const cookie = sidCookie(response)!.split(";")[0]!;
    const devices = (await (await get("/api/devices", cookie)).json()) as { userId: string; devices: Array<{ current: boolean }> };
    expect(devices.userId).toBe("kristen");
    expect(devices.devices).toEqual([expect.objectContaining({ current: true })]); // the one session signIn listed
    expect(sidCookie(await post("/sign-out", cookie))).toMatch(/^sid=;/);
    expect((await get("/api/devices", cookie)).status).toBe(401);
  });

  it("cacheComponents: reading the session logs no prerendering error (the clock is read at request time)", async () => {
    const cookie = await signedInCookie("ken");
    for (const visitor of [undefined, cookie]) expect((await get("/", visitor)).status).toBe(200);
    expect(app.output()).not.toMatch(/Date\.now\(\)|while prerendering/);
  });

  it("a change after save() throws ERR_SESSION_COMMITTED instead of being silently dropped", async () => {
    const response = await post("/api/set-after-save");
    expect(await response.json()).toEqual({
      code: "ERR_SESSION_COMMITTED",
      message: "session.set() after save(): the change would not be stored",
    });
    const cookie = sidCookie(response)!.split(";")[0]!;
    expect(await (await post("/api/visits", cookie)).json()).toEqual({ visits: 2 }); // 1 was stored, not 2
  });

  it("a store failure fails the Server Action and the Route Handler with a 500, and sets no cookie", async () => {
    await post("/api/store", undefined, "down");
    try {
      const handler = await post("/api/visits");
      expect(handler.status).toBe(500);
      expect(sidCookie(handler)).toBeUndefined();
      const action = await signIn("ada");
      expect(action.status).toBe(500);
      expect(sidCookie(action)).toBeUndefined();
    } finally {
      await post("/api/store", undefined, "up");
    }
    expect((await post("/api/visits")).status).toBe(200);
  });

  it("a change never saved is reported after the response (ERR_SESSION_NOT_SAVED), not silently lost", async () => {
    const message = "the session was changed but save() was never called: the change is lost";
    expect(app.output()).not.toContain(message);
    const response = await post("/api/forgot-save");
    expect(await response.json()).toEqual({ saved: false });
    expect(sidCookie(response)).toBeUndefined();
    // after() runs once the response is sent: wait for the report itself, not for a time.
    for (let attempt = 0; attempt < 100 && !app.output().includes(message); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(app.output()).toContain(message);
  });

  it("signs out in a Route Handler: the cookie is expired and the old id no longer loads", async () => {
    const cookie = await signedInCookie("linus");
    const response = await post("/sign-out", cookie);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ signedOut: true });
    const expired = sidCookie(response)!;
    expect(expired).toMatch(/^sid=;/);
    expect(expired).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/);
    expect(response.headers.get("cache-control")).toBe("no-store"); // withSession: the expiring cookie is not cached either
    expect(await textOf(await get("/", cookie), "user")).toBe("signed out");
  });

  it("set() in a Server Component throws a SessionError that says why and where to write instead", async () => {
    const cookie = await signedInCookie("barbara");
    const response = await get("/readonly", cookie);
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('data-code="ERR_SESSION_READ_ONLY"');
    expect(html).toContain("Next.js forbids setting cookies while rendering");
    expect(html).toContain("Change it in a Server Action or a Route Handler and call `await session.save()` there.");
    expect(sidCookie(response)).toBeUndefined();
    expect(await textOf(await get("/", cookie), "user")).toBe("signed in as barbara");
  });

  it("a read in a Server Component extends the idle expiry: the store is touched after the response", async () => {
    const cookie = await signedInCookie("edsger");
    const touches = async () => ((await (await get("/api/touches")).json()) as { touches: number }).touches;
    const before = await touches();
    await get("/", cookie);
    let now = before;
    // after() runs once the response is sent: wait for the event itself, not for a time.
    for (let attempt = 0; attempt < 100 && now === before; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      now = await touches();
    }
    expect(now).toBeGreaterThan(before);
  });

  it("proxy.ts lets a live session through and sends anyone else to sign in, writing nothing", async () => {
    const anonymous = await get("/private");
    expect(anonymous.status).toBe(307);
    expect(new URL(anonymous.headers.get("location")!, app.url).pathname).toBe("/sign-in");

    const cookie = await signedInCookie("margaret");
    const member = await get("/private", cookie);
    expect(member.status).toBe(200);
    expect(await textOf(member, "private")).toBe("members only");
    expect(sidCookie(member)).toBeUndefined();

    await post("/sign-out", cookie);
    expect((await get("/private", cookie)).status).toBe(307);
  });

  it("a forged or malformed cookie reads as a fresh, signed-out session", async () => {
    for (const cookie of ["sid=forged", `sid=${"A".repeat(43)}`, "sid=%E0%A4%A"]) {
      const response = await get("/", cookie);
      expect(response.status).toBe(200);
      expect(await textOf(response, "user")).toBe("signed out");
      expect((await get("/private", cookie)).status).toBe(307);
    }
  });
});

describe("sessionkit/next under next dev: the documented setup as a reader first runs it", () => {
  let dev: ServedApp;

  beforeAll(async () => {
    const port = await sparePort();
    dev = await serveApp(dir, binOf("next"), ["dev", "-H", "127.0.0.1", "-p", String(port)], `http://127.0.0.1:${port}/api/touches`, {
      NODE_ENV: "development",
    });
  }, 120_000);

  afterAll(() => dev?.stop());

  it("a Route Handler's write is read by a page (one manager on globalThis), and no request logs an error", async () => {
    const url = dev.url.replace(/api\/touches$/, "");
    const write = await fetch(`${url}api/visits`, { method: "POST" });
    expect(await write.json()).toEqual({ visits: 1 });
    const cookie = sidCookie(write)!.split(";")[0]!;
    for (const visitor of [undefined, "sid=forged", cookie]) {
      const response = await fetch(url, { headers: visitor ? { cookie: visitor } : {} });
      expect(response.status).toBe(200);
      const html = await response.text();
      expect(/<p id="visits">([^<]*)<\/p>/.exec(html)?.[1]).toBe(visitor === cookie ? "1" : "0");
    }
    expect(dev.output()).not.toMatch(/Error|Date\.now\(\)|while prerendering/);
  }, 60_000);
});

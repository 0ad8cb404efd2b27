/**
 * sessionkit/next in a real Next.js App Router app (test/apps/next), built with `next build` and
 * served by `next start` on 127.0.0.1, driven with fetch as a browser without JavaScript would:
 * the sign-in form posts to its Server Action, pages are Server Components, sign-out is a Route
 * Handler, /private is guarded by proxy.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appDir, binOf, buildApp, type ServedApp, serveApp, sparePort } from "./support/framework-app.js";

const dir = appDir("next");
let app: ServedApp;

beforeAll(async () => {
  await buildApp(dir, binOf("next"), ["build"]);
  const port = await sparePort();
  app = await serveApp(dir, binOf("next"), ["start", "-H", "127.0.0.1", "-p", String(port)], `http://127.0.0.1:${port}/`);
}, 300_000);

afterAll(() => app?.stop());

const get = (path: string, cookie?: string) => fetch(app.url + path.slice(1), { headers: cookie ? { cookie } : {}, redirect: "manual" });
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
async function signIn(user: string, cookie?: string): Promise<Response> {
  const form = await (await get("/sign-in", cookie)).text();
  const actionField = /name="(\$ACTION_ID_[0-9a-f]+)"/.exec(form)?.[1];
  expect(actionField, "the form carries its Server Action id").toBeDefined();
  const body = new FormData();
  body.set(actionField!, "");
  body.set("user", user);
  return post("/sign-in", cookie, body);
}

async function signedInCookie(user: string): Promise<string> {
  const cookie = sidCookie(await signIn(user));
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

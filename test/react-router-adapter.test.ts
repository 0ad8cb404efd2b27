/**
 * sessionkit/react-router in a real React Router framework-mode app (test/apps/react-router),
 * built with `react-router build` and served by `react-router-serve` on 127.0.0.1, driven with
 * fetch as a browser without JavaScript would: a loader reads, a form posts to an action.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appDir, binOf, buildApp, type ServedApp, serveApp, sparePort } from "./support/framework-app.js";
import { everyMemberReport } from "./support/session-api.js";

// React Router 8 (its current major) needs Node 22.22 or newer: CI runs this on Node 26.
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
const supported = major > 22 || (major === 22 && minor >= 22);

const dir = appDir("react-router");
let app: ServedApp;
/** The same build behind its own Express server with "trust proxy" (test/apps/react-router/server.ts). */
let proxied: ServedApp;

const get = (path: string, cookie?: string) => fetch(app.url + path.slice(1), { headers: cookie ? { cookie } : {}, redirect: "manual" });
const postForm = (path: string, fields: Record<string, string>, cookie?: string) =>
  fetch(app.url + path.slice(1), { method: "POST", body: new URLSearchParams(fields), headers: cookie ? { cookie } : {}, redirect: "manual" });

const sidCookie = (response: Response) => response.headers.getSetCookie().find((line) => line.startsWith("sid="));

async function page(cookie?: string): Promise<{ user?: string; message?: string; setCookie?: string }> {
  const response = await get("/", cookie);
  expect(response.status).toBe(200);
  // The loader always commits; when that yields "" no Set-Cookie header goes out at all.
  expect(response.headers.getSetCookie().filter((line) => !line.startsWith("sid="))).toEqual([]);
  const html = await response.text();
  const text = (id: string) => new RegExp(`<p id="${id}">([^<]*)</p>`).exec(html)?.[1];
  return { user: text("user"), message: text("message"), setCookie: sidCookie(response) };
}

async function signIn(user: string, cookie?: string, userAgent?: string): Promise<Response> {
  const headers: Record<string, string> = { ...(cookie ? { cookie } : {}), ...(userAgent ? { "user-agent": userAgent } : {}) };
  return fetch(`${app.url}sign-in`, { method: "POST", body: new URLSearchParams({ user }), headers, redirect: "manual" });
}

const signedIn = async (user: string, userAgent?: string) => sidCookie(await signIn(user, undefined, userAgent))!.split(";")[0]!;

describe.skipIf(!supported)(`sessionkit/react-router in a built React Router app (react-router-serve)${supported ? "" : ": skipped, React Router 8 needs Node >= 22.22"}`, () => {
  beforeAll(async () => {
    await buildApp(dir, binOf("react-router"), ["build"]);
    const port = await sparePort();
    app = await serveApp(dir, binOf("react-router-serve"), ["./build/server/index.js"], `http://127.0.0.1:${port}/`, {
      PORT: String(port),
      HOST: "127.0.0.1",
    });
    const proxiedPort = await sparePort();
    proxied = await serveApp(dir, process.execPath, ["server.ts"], `http://127.0.0.1:${proxiedPort}/`, { PORT: String(proxiedPort), HOST: "127.0.0.1" });
  }, 180_000);

  afterAll(async () => {
    await Promise.all([app?.stop(), proxied?.stop()]);
  });

  it("a loader reads a fresh session as signed out and sends no cookie", async () => {
    expect(await page()).toEqual({ user: "signed out", message: "", setCookie: undefined });
  });

  it("an action writes: sign-in sets the manager's cookie, not storable by shared caches", async () => {
    const response = await signIn("ada");
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/");
    const setCookie = sidCookie(response)!;
    expect(setCookie).toMatch(/^sid=[A-Za-z0-9_-]{43}; Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(response.headers.get("cache-control")).toBe("no-store"); // the core rule, as in every adapter
    expect((await page(setCookie.split(";")[0])).user).toBe("signed in as ada");
  });

  it("a flash shows once: the loader that reads it commits its removal", async () => {
    const cookie = sidCookie(await signIn("grace"))!.split(";")[0]!;
    const first = await page(cookie);
    expect(first.message).toBe("welcome, grace");
    expect(first.setCookie).toBeUndefined(); // same id: the browser needs no new cookie
    expect((await page(cookie)).message).toBe("");
    expect((await page(cookie)).user).toBe("signed in as grace");
  });

  it("signIn gives a new id: the cookie from before stops loading", async () => {
    const before = sidCookie(await signIn("linus"))!.split(";")[0]!;
    const after = sidCookie(await signIn("barbara", before))!.split(";")[0]!;
    expect(after).not.toBe(before);
    expect((await page(after)).user).toBe("signed in as barbara");
    expect((await page(before)).user).toBe("signed out");
  });

  it("a store failure fails the action through React Router's error path (500), with no cookie", async () => {
    const switchStore = (state: string) => fetch(`${app.url}store`, { method: "POST", body: state });
    expect((await switchStore("down")).status).toBe(204);
    try {
      const response = await signIn("ada");
      expect(response.status).toBe(500);
      expect(sidCookie(response)).toBeUndefined();
    } finally {
      await switchStore("up");
    }
    expect((await signIn("ada")).status).toBe(302);
  });

  it("destroySession expires the cookie and the old id no longer loads", async () => {
    const cookie = sidCookie(await signIn("edsger"))!.split(";")[0]!;
    const response = await postForm("/sign-out", {}, cookie);
    expect(response.status).toBe(302);
    expect(sidCookie(response)).toMatch(/^sid=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect((await page(cookie)).user).toBe("signed out");
  });

  it("a redirect whose commitSession is \"\" (same id) carries no Set-Cookie header at all, not an empty one", async () => {
    const cookie = await signedIn("tim");
    const response = await postForm("/visit", {}, cookie);
    expect(response.status).toBe(302);
    expect(response.headers.has("set-cookie")).toBe(false);
    expect(((await (await get("/devices", cookie)).json()) as { visits: number }).visits).toBe(1);
  });

  it("two different sid cookies load neither: a fresh session and an ambiguous-cookie event", async () => {
    const victim = await signedIn("victim");
    const attacker = await signedIn("attacker");
    const events = async () => ((await (await get("/store")).json()) as { events: string[] }).events.filter((type) => type === "ambiguous-cookie").length;
    const before = await events();
    for (const cookie of [`${victim}; ${attacker}`, `${attacker}; ${victim}`]) {
      expect(await page(cookie)).toEqual({ user: "signed out", message: "", setCookie: undefined });
    }
    expect(await events()).toBe(before + 2);
    expect((await page(victim)).user).toBe("signed in as victim");
  });

  it("signIn, userId, handle, listSessions and revokeUser work from loaders and actions", async () => {
    const phone = await signedIn("alan", "phone");
    const laptop = await signedIn("alan", "laptop");
    expect(await (await get("/devices", laptop)).json()).toEqual({
      userId: "alan",
      visits: 0,
      devices: [
        { userAgent: "laptop", current: true },
        { userAgent: "phone", current: false },
      ],
    });
    const revoked = await postForm("/devices", {}, laptop);
    expect(await revoked.json()).toEqual({ revoked: 1 });
    expect((await page(phone)).user).toBe("signed out");
    expect((await page(laptop)).user).toBe("signed in as alan");
  });

  it("Secure over https behind a proxy: a custom Express server with trust proxy makes getSession(request) set Secure", async () => {
    const signInVia = (served: ServedApp, proto: string) =>
      fetch(`${served.url}sign-in`, { method: "POST", body: new URLSearchParams({ user: "ada" }), headers: { "x-forwarded-proto": proto }, redirect: "manual" });
    const attributes = (response: Response) => sidCookie(response)?.split("; ").slice(1);
    expect(attributes(await signInVia(proxied, "https"))).toContain("Secure");
    expect(attributes(await signInVia(proxied, "http"))).not.toContain("Secure"); // plain http under "auto"
    // react-router-serve does not trust the header (and has no setting to): the URL stays http.
    expect(attributes(await signInVia(app, "https"))).not.toContain("Secure");
  });

  it("cookie.secure: true with the name __Host-sid: Secure, Path=/, no Domain, and it loads back", async () => {
    const response = await fetch(`${app.url}host`, { method: "POST", redirect: "manual" });
    const line = response.headers.getSetCookie().find((cookie) => cookie.startsWith("__Host-sid="));
    const attributes = line?.split("; ").slice(1);
    expect(attributes).toEqual(expect.arrayContaining(["Secure", "Path=/", "HttpOnly"]));
    expect(attributes?.some((attribute) => attribute.startsWith("Domain="))).toBe(false);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await (await get("/host", line!.split(";")[0])).json()).toEqual({ visits: 1 });
  });

  it("a sign-in superseded by a sign-out meanwhile sends no cookie: the user stays signed out", async () => {
    const store = (command: string) => fetch(`${app.url}store`, { method: "POST", body: command });
    const signInOnly = (cookie: string) => fetch(`${app.url}api/sign-in?user=mallory`, { method: "POST", headers: { cookie }, redirect: "manual" });
    const cookie = await signedIn("eve");
    // The interleaving is forced, not timed: the app's store holds its next write on a GatedStore
    // barrier (routes/store.ts). The action's signIn parks there, after loading the session; the
    // sign-out runs to the end meanwhile; then the sign-in goes on, finding the session it rotates gone.
    await store("hold");
    const signingIn = signInOnly(cookie);
    await store("reached");
    const signOut = await postForm("/sign-out", {}, cookie);
    expect(sidCookie(signOut)).toMatch(/^sid=;/);
    await store("release");
    const late = await signingIn;
    expect(await late.json()).toEqual({ userId: null, superseded: true });
    expect(late.headers.has("set-cookie")).toBe(false);
    expect((await page(cookie)).user).toBe("signed out");
    // Unraced, a sign-in over a live session sends the new id's cookie: its absence above means something.
    expect(sidCookie(await signInOnly(await signedIn("eve")))).toBeDefined();
  });

  it("the React Router session is the whole Session: every member works from an action", async () => {
    const response = await fetch(`${app.url}api/every-member?user=kristen`, { method: "POST", redirect: "manual" });
    const report = (await response.json()) as Record<string, unknown>;
    expect(report).toEqual(everyMemberReport("kristen"));
    const cookie = sidCookie(response)!.split(";")[0]!;
    const devices = (await (await get("/devices", cookie)).json()) as { userId: string; devices: Array<{ current: boolean }> };
    expect(devices.userId).toBe("kristen");
    expect(devices.devices).toEqual([expect.objectContaining({ current: true })]); // the one session signIn listed
    expect(sidCookie(await postForm("/sign-out", {}, cookie))).toMatch(/^sid=; Max-Age=0/);
    expect((await get("/devices", cookie)).status).toBe(401);
  });

  it("the root middleware ran, so the adapter did not warn that Cache-Control is missing", () => {
    expect(app.output()).not.toContain("SESSIONKIT_REACT_ROUTER_NO_CACHE_CONTROL");
  });

  it("a forged or malformed cookie reads as a fresh session, without an error", async () => {
    for (const cookie of ["sid=forged", `sid=${"A".repeat(43)}`, "sid=%E0%A4%A"]) {
      expect(await page(cookie)).toEqual({ user: "signed out", message: "", setCookie: undefined });
    }
  });
});

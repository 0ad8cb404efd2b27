/**
 * sessionkit/react-router in a real React Router framework-mode app (test/apps/react-router),
 * built with `react-router build` and served by `react-router-serve` on 127.0.0.1, driven with
 * fetch as a browser without JavaScript would: a loader reads, a form posts to an action.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appDir, binOf, buildApp, type ServedApp, serveApp, sparePort } from "./support/framework-app.js";

// React Router 8 (its current major) needs Node 22.22 or newer: CI runs this on Node 24.
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
const supported = major > 22 || (major === 22 && minor >= 22);

const dir = appDir("react-router");
let app: ServedApp;

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

async function signIn(user: string, cookie?: string): Promise<Response> {
  return postForm("/sign-in", { user }, cookie);
}

describe.skipIf(!supported)(`sessionkit/react-router in a built React Router app (react-router-serve)${supported ? "" : ": skipped, React Router 8 needs Node >= 22.22"}`, () => {
  beforeAll(async () => {
    await buildApp(dir, binOf("react-router"), ["build"]);
    const port = await sparePort();
    app = await serveApp(dir, binOf("react-router-serve"), ["./build/server/index.js"], `http://127.0.0.1:${port}/`, {
      PORT: String(port),
      HOST: "127.0.0.1",
    });
  }, 180_000);

  afterAll(() => app?.stop());

  it("a loader reads a fresh session as signed out and sends no cookie", async () => {
    expect(await page()).toEqual({ user: "signed out", message: "", setCookie: undefined });
  });

  it("an action writes: sign-in sets the manager's cookie, not storable by shared caches", async () => {
    const response = await signIn("ada");
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/");
    const setCookie = sidCookie(response)!;
    expect(setCookie).toMatch(/^sid=[A-Za-z0-9_-]{43}; Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(response.headers.get("cache-control")).toBe("private, no-store");
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

  it("regenerateSession on sign-in: the cookie from before stops loading", async () => {
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
    expect(response.headers.get("cache-control")).toBe("private, no-store");
    expect((await page(cookie)).user).toBe("signed out");
  });

  it("a forged or malformed cookie reads as a fresh session, without an error", async () => {
    for (const cookie of ["sid=forged", `sid=${"A".repeat(43)}`, "sid=%E0%A4%A"]) {
      expect(await page(cookie)).toEqual({ user: "signed out", message: "", setCookie: undefined });
    }
  });
});

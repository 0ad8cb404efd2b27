import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RunningDemo } from "./support/demo.js";
import { startDemo } from "./support/demo.js";
import { Browser, parseRegistration } from "./support/dbsc-browser.js";
import { CookieClient } from "./support/http.js";

// The README's `npm start`: the demo app, run as a user would, and clicked through over HTTP.
// test/browser/demo.browser.test.ts clicks through it in Chromium.
let demo: RunningDemo;
beforeAll(async () => {
  demo = await startDemo();
});
afterAll(() => demo.stop());

function sessionCookie(response: Response): string {
  const cookies = response.headers.getSetCookie();
  expect(cookies).toHaveLength(1);
  return /^sid=([^;]+)/.exec(cookies[0]!)![1]!;
}

it("signs in with a new id, counts visits, flashes once, and signs out", async () => {
  const browser = new CookieClient(demo.base);
  expect(readdirSync(demo.sessionDir)).toEqual([]);
  expect(await (await browser.get("/")).text()).toContain("Not signed in. Visits this session: 1.");
  const anonymousId = browser.jar.get("sid");
  const signIn = await fetch(`${demo.base}/signin`, {
    method: "POST",
    body: new URLSearchParams({ user: "ada" }),
    headers: { cookie: `sid=${anonymousId}` },
    redirect: "manual",
  });
  expect(signIn.status).toBe(302);
  const signedInId = sessionCookie(signIn);
  expect(signedInId).not.toBe(anonymousId);
  browser.jar.set("sid", signedInId);
  const home = await (await browser.get("/")).text();
  expect(home).toContain("Welcome, ada!");
  expect(home).toContain("Signed in as <b>ada</b>. Visits this session: 2.");
  expect(await (await browser.get("/")).text()).not.toContain("Welcome");
  expect(readdirSync(demo.sessionDir).length).toBeGreaterThan(0); // the embedded default: files on disk
  const signOut = await fetch(`${demo.base}/signout`, { method: "POST", headers: { cookie: `sid=${signedInId}` }, redirect: "manual" });
  expect(signOut.headers.get("location")).toBe("/signed-out");
  expect(signOut.headers.getSetCookie()).toEqual([expect.stringMatching(/^sid=; .*Max-Age=0/)]);
  const signedOut = await fetch(`${demo.base}/signed-out`);
  expect(signedOut.headers.getSetCookie()).toEqual([]); // no new session until the visitor comes back
  expect(await signedOut.text()).toContain("You are signed out.");
  const back = await fetch(`${demo.base}/`, { headers: { cookie: `sid=${signedInId}` } });
  expect(await back.text()).toContain("Not signed in. Visits this session: 1."); // the old id is dead
});

it("sends a visitor who is not signed in from the sessions page home", async () => {
  const browser = new CookieClient(demo.base);
  const response = await browser.get("/sessions");
  expect(response.status).toBe(302);
  expect(response.headers.get("location")).toBe("/");
  expect(await (await browser.get("/")).text()).toContain("Sign in to see your sessions.");
});

it("a second `npm start` on a taken port says so in one line, without a stack trace", async () => {
  const second = promisify(execFile)(process.execPath, ["--import", "tsx", "examples/demo/server.ts"], {
    env: { ...process.env, PORT: String(demo.port), SESSION_DIR: demo.sessionDir, SESSION_STORE: "" },
  });
  const failure = (await second.then(() => undefined, (error: unknown) => error)) as { code: number; stderr: string } | undefined;
  expect(failure?.code).toBe(1);
  expect(failure!.stderr).toBe(
    `sessionkit demo: port ${demo.port} is already in use (is the demo running in another terminal?); try PORT=${demo.port + 1} npm start\n`,
  );
});

it("offers DBSC at sign-in; a browser that binds sees \"bound to this device\" on its sessions page", async () => {
  const browser = new Browser(demo.base);
  await browser.fetch("/");
  const signIn = await fetch(`${demo.base}/signin`, {
    method: "POST",
    body: new URLSearchParams({ user: "dbsc-user" }),
    headers: { cookie: `sid=${browser.jar.get("sid")}` },
    redirect: "manual",
  });
  browser.jar.set("sid", sessionCookie(signIn));
  browser.lastRegistration = parseRegistration(signIn.headers.get("secure-session-registration"));
  expect(browser.lastRegistration?.path).toBe("/.sessionkit/dbsc/register");
  expect((await browser.register()).status).toBe(200);
  const page = await (await browser.fetch("/sessions")).text();
  expect(page).toContain('<span class="bound">bound to this device</span>');
});

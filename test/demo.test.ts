import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RunningDemo } from "./support/demo.js";
import { startDemo } from "./support/demo.js";
import { Browser, parseRegistration } from "./support/dbsc-browser.js";
import { CookieClient } from "./support/http.js";
import { NODE_SQLITE } from "./support/sqlite.js";

// The README's `npm start`: the demo app, run as a user would, and clicked through over HTTP.
// test/browser/demo.browser.test.ts clicks through it in Chromium.
let demo: RunningDemo;
beforeAll(async () => {
  demo = await startDemo();
});
afterAll(() => demo.stop());

// The embedded default: SQLite through node:sqlite where this Node has it (the demo runs on the same Node), else files.
const EMBEDDED = NODE_SQLITE ? "sqlite" : "file";

/** What the embedded store holds in the demo's directory. */
function stored(dir: string): string[] {
  return readdirSync(dir).filter((name) => (EMBEDDED === "sqlite" ? name === "sessions.db" : true));
}

it("names the store it runs on in its first line", () => {
  const where = NODE_SQLITE ? /, sessions in SQLite \(node:sqlite\) in .*sessions\.db$/ : /, sessions in the file store in .* \(node:sqlite needs Node 22\.13\+; this is v[\d.]+\)$/;
  expect(demo.firstLine).toMatch(new RegExp(`^sessionkit demo on ${demo.base}${where.source}`));
});

function sessionCookie(response: Response): string {
  const cookies = response.headers.getSetCookie();
  expect(cookies).toHaveLength(1);
  return /^sid=([^;]+)/.exec(cookies[0]!)![1]!;
}

it("signs in with a new id, counts visits, flashes once, and signs out", async () => {
  const browser = new CookieClient(demo.base);
  if (EMBEDDED === "file") expect(readdirSync(demo.sessionDir)).toEqual([]);
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
  expect(stored(demo.sessionDir).length).toBeGreaterThan(0); // the embedded default: on disk
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

it("sessions survive a restart of the demo", async () => {
  const first = await startDemo();
  let second: RunningDemo | undefined;
  try {
    const browser = new CookieClient(first.base);
    await browser.get("/");
    expect(await (await browser.get("/")).text()).toContain("Visits this session: 2.");
    await first.halt();
    second = await startDemo(first.sessionDir);
    const again = new CookieClient(second.base);
    again.jar.set("sid", browser.jar.get("sid")!);
    expect(await (await again.get("/")).text()).toContain("Visits this session: 3.");
  } finally {
    (second ?? first).stop();
  }
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

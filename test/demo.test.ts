import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CookieClient } from "./support/http.js";
import { freePort } from "./support/servers.js";

// The README's `npm start`: the demo app, run as a user would, and clicked through.
let base = "";
let child: ReturnType<typeof spawn>;
const sessionDir = mkdtempSync(join(tmpdir(), "sessionkit-demo-"));

beforeAll(async () => {
  const port = await freePort();
  child = spawn(process.execPath, ["--import", "tsx", "examples/demo/server.ts"], {
    env: { ...process.env, PORT: String(port), SESSION_DIR: sessionDir, SESSION_STORE: "" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
  while (!output.includes("sessionkit demo on")) await once(child.stdout!, "data");
  base = `http://127.0.0.1:${port}`;
});
afterAll(() => {
  child.kill("SIGTERM");
  rmSync(sessionDir, { recursive: true, force: true });
});

it("logs in with a new id, counts visits, flashes once, and logs out", async () => {
  const browser = new CookieClient(base);
  expect(readdirSync(sessionDir)).toEqual([]);
  expect(await (await browser.get("/")).text()).toContain("Not logged in. Visits this session: 1.");
  const anonymousId = browser.jar.get("sid");
  const login = await fetch(`${base}/login`, {
    method: "POST",
    body: new URLSearchParams({ user: "ada" }),
    headers: { cookie: `sid=${anonymousId}` },
    redirect: "manual",
  });
  expect(login.status).toBe(302);
  const loggedInId = /^sid=([^;]+)/.exec(login.headers.getSetCookie()[0]!)![1]!;
  expect(loggedInId).not.toBe(anonymousId);
  browser.jar.set("sid", loggedInId);
  const home = await (await browser.get("/")).text();
  expect(home).toContain("Welcome, ada!");
  expect(home).toContain("Logged in as <b>ada</b>. Visits this session: 2.");
  expect(await (await browser.get("/")).text()).not.toContain("Welcome");
  expect(readdirSync(sessionDir).length).toBeGreaterThan(0); // the embedded default: files on disk
  const logout = await fetch(`${base}/logout`, { method: "POST", headers: { cookie: `sid=${loggedInId}` }, redirect: "manual" });
  const cookies = logout.headers.getSetCookie();
  expect(cookies).toHaveLength(1);
  const freshId = /^sid=([^;]+)/.exec(cookies[0]!)![1]!;
  expect(freshId).not.toBe(loggedInId);
  browser.jar.set("sid", freshId);
  const after = await (await browser.get("/")).text();
  expect(after).toContain("You are logged out.");
  expect(after).toContain("Not logged in.");
});

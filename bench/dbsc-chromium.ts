/**
 * Probe: does this machine's Chromium speak DBSC? Serves a sign-in page with option dbsc on
 * http://localhost (a secure context), opens it in Chromium with the DBSC switches and reports
 * every request that reaches the DBSC endpoints. Usage: npx tsx bench/dbsc-chromium.ts [extra flags...]
 * The outcome is recorded in docs/security.md ("Stolen cookies", "Browsers tested").
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { chromium } from "playwright-core";
import { MemoryStore, SessionManager, serveDbsc } from "../src/index.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const WAIT_MS = Number(process.env.DBSC_WAIT_MS ?? 8000);

const seen: string[] = [];
const manager = new SessionManager({ store: new MemoryStore(), cookie: { secure: false }, dbsc: { registrationPath: "/dbsc/start", refreshPath: "/dbsc/refresh", boundCookie: { maxAge: "2s" } } });
// DBSC_CERT/DBSC_KEY (PEM files): serve HTTPS, as the spec's registration requires a secure connection.
const tls = process.env.DBSC_CERT ? { cert: readFileSync(process.env.DBSC_CERT), key: readFileSync(process.env.DBSC_KEY!) } : undefined;
const scheme = tls ? "https" : "http";
const handler = async (req: IncomingMessage, res: ServerResponse) => {
  seen.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)}`);
  if (await serveDbsc(manager, req, res)) return;
  const session = await manager.start(req);
  if (req.url === "/login") await session.signIn("probe");
  await manager.release(session, res);
  res.setHeader("content-type", "text/html");
  res.end(`<p>${session.userId ?? "anonymous"} bound=${session.bound}</p>`);
};
const server = tls ? createHttpsServer(tls, handler) : createServer(handler);
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address() as AddressInfo;

const flags = process.argv.slice(2);
const args = [
  "--no-sandbox",
  "--disable-gpu",
  "--enable-features=DeviceBoundSessions:ForceEnableForTesting/true,EnableBoundSessionCredentialsSoftwareKeysForManualTesting,PersistDeviceBoundSessions",
  "--disable-features=DeviceBoundSessionsRefreshQuota,DeviceBoundSessionSigningQuotaAndCaching,DeviceBoundSessionProactiveRefresh",
  ...flags,
];
// A persistent context is a regular profile; Playwright's newContext() is off-the-record (incognito-like).
const profile = mkdtempSync(join(tmpdir(), "dbsc-probe-"));
const browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: process.env.HEADFUL !== "1", args, ignoreHTTPSErrors: true });
console.log("chromium", browser.browser()?.version() ?? "(persistent)", "flags", args.join(" "));
const page = await browser.newPage();
const login = await page.goto(`${scheme}://localhost:${port}/login`);
console.log("login response registration header:", (await login?.allHeaders())?.["secure-session-registration"]);
await new Promise((resolve) => setTimeout(resolve, WAIT_MS));
await page.goto(`${scheme}://localhost:${port}/me`);
console.log("after wait:", await page.textContent("p"));
await new Promise((resolve) => setTimeout(resolve, 3000)); // the 2 s bound cookie lapses
await page.goto(`${scheme}://localhost:${port}/me`);
console.log("after the bound cookie lapsed:", await page.textContent("p"));
console.log(seen.some((line) => line.includes(" /dbsc/")) ? seen.join("\n") : `no request reached /dbsc/ within ${WAIT_MS} ms`);
await browser.close();
rmSync(profile, { recursive: true, force: true });
server.close();

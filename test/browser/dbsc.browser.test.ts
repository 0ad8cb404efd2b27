/**
 * DBSC against Debian's Chromium 156: the real browser registers a software key (the switch
 * Chromium provides for manual testing where no TPM is), proves it on refresh, and a copy of its
 * cookies in another profile dies with the bound cookie. Over HTTPS on localhost with a throwaway
 * certificate that Chromium accepts through --ignore-certificate-errors-spki-list: registration
 * needs a secure connection, and a certificate error (plain --ignore-certificate-errors) is not one.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext } from "playwright-core";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionEvent } from "../../src/index.js";
import { MemoryStore, SessionManager, serveDbsc } from "../../src/index.js";
import { CHROMIUM, chromiumAvailable } from "../support/chromium.js";

const OPENSSL = "/usr/bin/openssl";
const BOUND_COOKIE_SECONDS = 2;

/** A self-signed P-256 certificate for localhost and the base64 SHA-256 of its public key. */
function certificate(dir: string): { cert: Buffer; key: Buffer; spki: string } {
  const keyFile = join(dir, "key.pem");
  const certFile = join(dir, "cert.pem");
  execFileSync(OPENSSL, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyFile, "-out", certFile,
    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"], { stdio: "ignore" });
  const publicKey = execFileSync(OPENSSL, ["x509", "-in", certFile, "-pubkey", "-noout"]);
  const der = execFileSync(OPENSSL, ["pkey", "-pubin", "-outform", "der"], { input: publicKey });
  const spki = execFileSync(OPENSSL, ["dgst", "-sha256", "-binary"], { input: der }).toString("base64");
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), spki };
}

describe.runIf(chromiumAvailable() && existsSync(OPENSSL))("DBSC in Chromium", () => {
  const dir = mkdtempSync(join(tmpdir(), "sessionkit-dbsc-"));
  const events: SessionEvent[] = [];
  const refreshes: number[] = [];
  const manager = new SessionManager({
    store: new MemoryStore(),
    onEvent: (event) => events.push(event),
    dbsc: { registrationPath: "/dbsc/start", refreshPath: "/dbsc/refresh", boundCookie: { maxAge: `${BOUND_COOKIE_SECONDS}s` } },
  });
  let base = "";
  let close: () => void = () => {};
  const contexts: BrowserContext[] = [];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (await serveDbsc(manager, req, res)) {
      if (req.url === "/dbsc/refresh" && req.headers["secure-session-response"]) refreshes.push(res.statusCode);
      return;
    }
    const session = await manager.start(req);
    if (req.url === "/login") await session.signIn("alice");
    await manager.release(session, res);
    res.setHeader("content-type", "text/html");
    res.end(`<p>${session.userId ?? "anonymous"} bound=${session.bound}</p>`);
  }

  /** A profile of its own (Playwright's newContext() is off the record, where Chromium keeps no DBSC session). */
  async function profile(spki: string): Promise<BrowserContext> {
    const context = await chromium.launchPersistentContext(mkdtempSync(join(dir, "profile-")), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--enable-features=DeviceBoundSessions:ForceEnableForTesting/true,EnableBoundSessionCredentialsSoftwareKeysForManualTesting",
        "--disable-features=DeviceBoundSessionsRefreshQuota,DeviceBoundSessionSigningQuotaAndCaching,DeviceBoundSessionProactiveRefresh",
        `--ignore-certificate-errors-spki-list=${spki}`,
      ],
    });
    // Chromium limits how many DBSC proofs it signs per site: a favicon fetch would trigger
    // refreshes of its own and spend them.
    await context.route("**/favicon.ico", (route) => route.abort());
    contexts.push(context);
    return context;
  }

  let device: BrowserContext;
  let spki = "";
  beforeAll(async () => {
    const tls = certificate(dir);
    spki = tls.spki;
    const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => void handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `https://localhost:${(server.address() as AddressInfo).port}`;
    close = () => (server.closeAllConnections(), server.close());
    device = await profile(spki);
  }, 60_000);
  afterAll(async () => {
    for (const context of contexts) await context.close();
    close();
    rmSync(dir, { recursive: true, force: true });
  });

  const text = async (context: BrowserContext, path: string) => {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(base + path);
    return page.textContent("p");
  };

  it("registers after sign-in: the session is bound and listSessions says so", async () => {
    await text(device, "/login");
    await expect.poll(async () => (await manager.listSessions("alice"))[0]?.bound, { timeout: 20_000 }).toBe(true);
    expect(events.map((e) => e.type)).toContain("bound");
    expect(await text(device, "/me")).toBe("alice bound=true");
  }, 30_000);

  it("after the bound cookie lapses, Chromium refreshes with a signed challenge and stays signed in", async () => {
    const before = refreshes.length;
    await new Promise((resolve) => setTimeout(resolve, (BOUND_COOKIE_SECONDS + 1) * 1000));
    expect(await text(device, "/me")).toBe("alice bound=true");
    expect(refreshes.slice(before)).toContain(200);
  }, 30_000);

  it("the cookies copied into another profile stop working once the bound cookie lapses", async () => {
    const thief = await profile(spki);
    await thief.addCookies(await device.cookies());
    await new Promise((resolve) => setTimeout(resolve, (BOUND_COOKIE_SECONDS + 1) * 1000));
    expect(await text(thief, "/me")).toBe("anonymous bound=false");
    expect(events.filter((e) => e.type === "binding-failed").length).toBeGreaterThan(0);
    // The device itself is not visited again: Chromium signs at most 6 proofs per site in 9 minutes
    // (kSigningQuota in net/device_bound_sessions), and the tests above spent up to four.
  }, 60_000);
});

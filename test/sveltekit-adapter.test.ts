/**
 * sessionkit/sveltekit in a real SvelteKit app (test/apps/sveltekit): built with adapter-node by
 * `vite build`, served by `node build` on 127.0.0.1, driven by fetch as a browser would.
 */
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { everyMemberReport } from "./support/session-api.js";

const appDir = fileURLToPath(new URL("./apps/sveltekit/", import.meta.url));
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
// SvelteKit 3 (its current major) declares engines.node >=22.17; sessionkit itself runs on Node 20.
const kitRuns = major > 22 || (major === 22 && minor >= 17);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.on("error", reject);
  });
}

interface Served {
  /** What the app sees as its origin (and the Origin header a browser sends). */
  origin: string;
  /** Where the server listens. */
  url: string;
  output: string[];
  process: ChildProcess;
}

/** `node build`, as adapter-node's docs run it; resolves once it listens. */
async function serve(env: Record<string, string> = {}): Promise<Served> {
  const port = await freePort();
  // adapter-node 6 takes the origin from the request, assuming https (a TLS proxy in front) unless
  // PROTOCOL_HEADER names a header saying otherwise; so the app sees https://127.0.0.1:port.
  const origin = `https://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ["build"], {
    cwd: appDir,
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  child.stderr!.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      output.push(chunk.toString());
      if (output.join("").includes("Listening on")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`node build exited with ${code}: ${output.join("")}`)));
  });
  return { origin, url: `http://127.0.0.1:${port}`, output, process: child };
}

/** A browser's cookie jar reduced to the session cookie; requests carry Origin (SvelteKit's CSRF check). */
class Browser {
  cookie: string | undefined;
  constructor(readonly app: Served) {}

  async request(path: string, form?: Record<string, string>): Promise<Response> {
    // What a browser sends for a form submission without JavaScript (with it, use:enhance asks for JSON).
    const headers = new Headers({ origin: this.app.origin, accept: "text/html" });
    if (this.cookie) headers.set("cookie", this.cookie);
    const init: RequestInit = form ? { method: "POST", body: new URLSearchParams(form), headers } : { headers };
    const response = await fetch(this.app.url + path, { ...init, redirect: "manual" });
    for (const line of response.headers.getSetCookie()) {
      this.cookie = /max-age=0\b|expires=thu, 01 jan 1970/i.test(line) ? undefined : line.split(";")[0];
    }
    return response;
  }

  async page(): Promise<{ user: string; views: string }> {
    const html = await (await this.request("/")).text();
    return { user: /<p id="user">([^<]*)</.exec(html)![1]!, views: /<p id="views">([^<]*)</.exec(html)![1]! };
  }
}

describe.skipIf(!kitRuns)(`SvelteKit 3 app with adapter-node (needs Node 22.17+; this is ${process.versions.node})`, () => {
  let app: Served;
  let storeDown: Served;
  let hostCookie: Served;
  let proxied: Served;

  beforeAll(async () => {
    // The app has dependencies of its own (SvelteKit 3 wants TypeScript 6): installed on first use,
    // so `npm install && npm test` on a fresh machine runs this test too.
    if (!existsSync(`${appDir}node_modules/@sveltejs/kit`)) {
      // npm install, not ci: the registry here lacks an optional Windows-only package vite lists,
      // which `npm ci` reports as a lock-file mismatch.
      await promisify(execFile)("npm", ["install", "--prefix", appDir, "--no-audit", "--no-fund", "--prefer-offline"], { cwd: appDir });
    }
    await promisify(execFile)(process.execPath, ["node_modules/vite/bin/vite.js", "build"], { cwd: appDir });
    [app, storeDown, hostCookie, proxied] = await Promise.all([
      serve(),
      serve({ SESSION_STORE_DOWN: "1" }),
      serve({ SESSION_HOST_COOKIE: "1" }),
      // Behind a proxy that says which scheme the browser used (adapter-node's PROTOCOL_HEADER).
      serve({ PROTOCOL_HEADER: "x-forwarded-proto" }),
    ]);
  }, 180_000);

  afterAll(() => {
    app?.process.kill();
    storeDown?.process.kill();
    hostCookie?.process.kill();
    proxied?.process.kill();
  });

  /** A request to an endpoint (+server.ts) of `app`, with the cookie header given (and Origin: SvelteKit's CSRF check). */
  const call = (method: string, path: string, cookie?: string, body?: string) =>
    fetch(app.url + path, { method, body, headers: { origin: app.origin, ...(cookie ? { cookie } : {}) }, redirect: "manual" });
  const cookieOf = (response: Response) => response.headers.getSetCookie().find((line) => line.startsWith("sid="))?.split(";")[0];
  const read = async (cookie?: string) => (await call("GET", "/api/read", cookie)).json();
  const signedOut = { data: {}, userId: null };

  it("type-checks as users write it: handle is a SvelteKit Handle, locals.session typed through App.Locals", async () => {
    // vite build ran svelte-kit sync, which generates the route types ./$types and $app/tsconfig.
    const tsc = await promisify(execFile)(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "."], { cwd: appDir }).catch((error: { stdout: string }) => error);
    expect(tsc.stdout).toBe("");
  });

  it("renders a page load without creating a session", async () => {
    const browser = new Browser(app);
    const response = await browser.request("/");
    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(await browser.page()).toEqual({ user: "nobody", views: "0" });
  });

  it("stores a form action's write, and the next request's load reads it", async () => {
    const browser = new Browser(app);
    const action = await browser.request("/?/count", {});
    expect(action.status).toBe(200);
    const setCookie = action.headers.getSetCookie();
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(/^sid=[^;]+; .*HttpOnly/);
    expect(setCookie[0]).toContain("Secure"); // the app's origin is https
    expect(action.headers.get("cache-control")).toContain("no-store");
    await browser.request("/?/count", {});
    expect(await browser.page()).toEqual({ user: "nobody", views: "2" });
    expect(await (await browser.request("/api/session")).json()).toEqual({ views: 2 });
  });

  it("signs in with a new session id (303 redirect carrying the cookie) and signs out", async () => {
    const browser = new Browser(app);
    await browser.request("/?/count", {});
    const before = browser.cookie;
    const signIn = await browser.request("/?/signin", { name: "alice" });
    expect(signIn.status).toBe(303);
    expect(signIn.headers.get("location")).toBe("/");
    expect(browser.cookie).toBeDefined();
    expect(browser.cookie).not.toBe(before);
    expect(await browser.page()).toEqual({ user: "alice", views: "1" });

    const old = new Browser(app);
    old.cookie = before;
    expect(await old.page()).toEqual({ user: "nobody", views: "0" });

    const signedIn = browser.cookie;
    const signOut = await browser.request("/?/signout", {});
    expect(signOut.status).toBe(303);
    expect(browser.cookie).toBeUndefined(); // the Set-Cookie expired it
    const replay = new Browser(app);
    replay.cookie = signedIn;
    expect(await replay.page()).toEqual({ user: "nobody", views: "0" });
  });

  it("keeps the Cache-Control an endpoint chose", async () => {
    const response = await new Browser(app).request("/cached");
    expect(response.headers.getSetCookie()).toHaveLength(1);
    expect(response.headers.get("cache-control")).toBe("private, max-age=60");
  });

  it("answers a failed store write through SvelteKit's error path (handleError, 500), without a cookie", async () => {
    const browser = new Browser(storeDown);
    const response = await browser.request("/?/count", {});
    expect(response.status).toBe(500);
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(storeDown.output.join("")).toContain("handleError ERR_SESSION_STORE");
    expect((await browser.request("/")).status).toBe(200); // and keeps serving
  });

  it("HttpOnly, SameSite=Lax, Path=/ over plain http, and Secure once the proxy says https", async () => {
    const host = proxied.url.slice("http://".length);
    const signIn = (proto: string) =>
      fetch(`${proxied.url}/api/sign-in?user=ada`, { method: "POST", headers: { origin: `${proto}://${host}`, "x-forwarded-proto": proto } });
    const plain = (await signIn("http")).headers.getSetCookie();
    expect(plain).toHaveLength(1);
    expect(plain[0]).toMatch(/^sid=[A-Za-z0-9_-]{43}; /);
    const attributes = plain[0]!.split("; ").slice(1).map((attribute) => attribute.toLowerCase());
    expect(attributes).toEqual(expect.arrayContaining(["httponly", "samesite=lax", "path=/"]));
    expect(attributes).not.toContain("secure"); // plain http under "auto"
    expect((await signIn("https")).headers.getSetCookie()[0]?.split("; ")).toContain("Secure");
  });

  it("cookie.secure: true with the name __Host-sid: Secure, Path=/, no Domain, and it loads back", async () => {
    const browser = new Browser(hostCookie);
    const action = await browser.request("/?/count", {});
    const line = action.headers.getSetCookie().find((cookie) => cookie.startsWith("__Host-sid="));
    const attributes = line?.split("; ").slice(1);
    expect(attributes).toEqual(expect.arrayContaining(["Secure", "Path=/", "HttpOnly"]));
    expect(attributes?.some((attribute) => attribute.toLowerCase().startsWith("domain="))).toBe(false);
    expect(await browser.page()).toEqual({ user: "nobody", views: "1" });
  });

  it("two different sid cookies load neither: a fresh session and an ambiguous-cookie event", async () => {
    const victim = cookieOf(await call("POST", "/api/sign-in?user=victim"));
    const attacker = cookieOf(await call("POST", "/api/sign-in?user=attacker"));
    const ambiguous = async () => ((await (await call("GET", "/api/store")).json()) as { events: string[] }).events.filter((type) => type === "ambiguous-cookie").length;
    const before = await ambiguous();
    for (const cookie of [`${victim}; ${attacker}`, `${attacker}; ${victim}`]) expect(await read(cookie)).toEqual(signedOut);
    expect(await ambiguous()).toBe(before + 2);
    const browser = new Browser(app);
    browser.cookie = `${victim}; ${attacker}`;
    await browser.request("/?/count", {});
    expect([victim, attacker]).not.toContain(browser.cookie); // a new session, not either of the two
    expect(await browser.page()).toEqual({ user: "nobody", views: "1" });
    expect(await read(victim)).toEqual({ data: {}, userId: "victim" });
  });

  it("a sign-in superseded by a sign-out meanwhile sends no cookie: the user stays signed out", async () => {
    const browser = new Browser(app);
    await browser.request("/?/count", {});
    const cookie = browser.cookie!;
    // The interleaving is forced, not timed: the app's store holds its next write on a GatedStore
    // barrier (routes/api/store/+server.ts). The endpoint's signIn parks there, after the hook loaded
    // the session; the sign-out action runs to the end meanwhile; then the sign-in goes on, finding
    // the session it rotates gone.
    await call("POST", "/api/store", undefined, "hold");
    const signingIn = call("POST", "/api/sign-in?user=mallory", cookie);
    await call("POST", "/api/store", undefined, "reached");
    const signOut = await browser.request("/?/signout", {});
    expect(signOut.headers.getSetCookie()[0]).toMatch(/^sid=;/);
    await call("POST", "/api/store", undefined, "release");
    const late = await signingIn;
    expect(late.status).toBeLessThan(500);
    expect(late.headers.getSetCookie()).toEqual([]);
    expect(await read(cookie)).toEqual(signedOut);
    // Unraced, a sign-in over a live session sends the new id's cookie: its absence above means something.
    const live = cookieOf(await call("POST", "/api/sign-in?user=eve"));
    expect(cookieOf(await call("POST", "/api/sign-in?user=mallory", live))).toBeDefined();
  });

  it("signIn → listSessions → revokeUser ends every session of the user", async () => {
    const laptop = cookieOf(await call("POST", "/api/sign-in?user=ada"));
    const phone = cookieOf(await call("POST", "/api/sign-in?user=ada"));
    expect(await read(phone)).toEqual({ data: {}, userId: "ada" });
    const handles = (await (await call("GET", "/api/devices", laptop)).json()) as string[];
    expect(handles).toHaveLength(2);
    expect(await (await call("POST", "/api/devices", laptop)).json()).toEqual({ revoked: 2 });
    for (const cookie of [phone, laptop]) expect(await read(cookie)).toEqual(signedOut);
  });

  it("locals.session is the whole Session: every member works from an endpoint", async () => {
    const response = await call("POST", "/api/every-member");
    const report = (await response.json()) as Record<string, unknown>;
    expect(report).toEqual(everyMemberReport("ada"));
    const cookie = cookieOf(response);
    expect(await read(cookie)).toEqual({ data: { kept: true }, userId: "ada" });
    expect(await (await call("GET", "/api/devices", cookie)).json()).toEqual([report.handle]);
    const browser = new Browser(app);
    browser.cookie = cookie;
    const signOut = await browser.request("/?/signout", {});
    expect(signOut.headers.getSetCookie()[0]).toMatch(/^sid=; .*Max-Age=0/i);
    expect(await read(cookie)).toEqual(signedOut);
  });
});

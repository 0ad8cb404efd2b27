/**
 * sessionkit/h3 in a real Nuxt 4 app (test/apps/nuxt; Nitro 2 on h3 1): its server/ files are the
 * Nuxt block of docs/adapters.md as written, built by `nuxt build` and served by
 * `node .output/server/index.mjs` on 127.0.0.1, driven by fetch. Beside them, test-server/ adds
 * test routes, and a second manager on the /lab/ routes for what the documented manager (a
 * MemoryStore, the default cookie, no onEvent) cannot show: `__Host-sid`, the ambiguous-cookie
 * event, a store held on a barrier or down.
 */
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./support/servers.js";
import { everyMemberReport } from "./support/session-api.js";

const appDir = fileURLToPath(new URL("./apps/nuxt/", import.meta.url));
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
// Nuxt 4.6 declares engines.node ^22.22.3 || ^24.15.0 || >=26; sessionkit itself runs on Node 20.
const nuxtRuns = (major === 22 && minor >= 22) || (major === 24 && minor >= 15) || major >= 26;

/** The files of the "Nuxt 4" block of docs/adapters.md, by their `// server/…` first lines. */
function documentedServerFiles(): Map<string, string> {
  const doc = readFileSync(fileURLToPath(new URL("../docs/adapters.md", import.meta.url)), "utf8");
  const section = doc.slice(doc.indexOf("### Nuxt 4"));
  const block = /```ts\n([\s\S]*?)^```/m.exec(section)![1]!;
  const files = new Map<string, string>();
  for (const part of block.split(/^(?=\/\/ server\/)/m)) {
    const path = /^\/\/ (server\/\S+\.ts)\n/.exec(part)?.[1];
    if (path) files.set(path, part);
  }
  return files;
}

describe.skipIf(!nuxtRuns)(`Nuxt 4 app (needs Node 22.22+ or 24.15+; this is ${process.versions.node})`, () => {
  let server: ChildProcess | undefined;
  let url = "";
  const output: string[] = [];

  beforeAll(async () => {
    // Its own dependencies, installed on first use so `npm install && npm test` runs this test too.
    if (!existsSync(join(appDir, "node_modules", "nuxt"))) {
      await promisify(execFile)("npm", ["install", "--prefix", appDir, "--no-audit", "--no-fund", "--prefer-offline"], { cwd: appDir });
    }
    rmSync(join(appDir, "server"), { recursive: true, force: true });
    const files = documentedServerFiles();
    expect([...files.keys()]).toContain("server/middleware/session.ts");
    for (const [path, text] of files) {
      mkdirSync(dirname(join(appDir, path)), { recursive: true });
      writeFileSync(join(appDir, path), text);
    }
    // Beside them, the test's own files (test-server/): reads, the per-user calls, the whole API, the lab manager.
    cpSync(join(appDir, "test-server"), join(appDir, "server"), { recursive: true });
    await promisify(execFile)(process.execPath, ["node_modules/nuxt/bin/nuxt.mjs", "build"], {
      cwd: appDir,
      env: { ...process.env, NUXT_TELEMETRY_DISABLED: "1" },
    });
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, [".output/server/index.mjs"], {
      cwd: appDir,
      env: { ...process.env, HOST: "127.0.0.1", PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    server.stderr!.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      server!.stdout!.on("data", (chunk: Buffer) => {
        output.push(chunk.toString());
        if (output.join("").includes("Listening on")) resolve();
      });
      server!.once("exit", (code) => reject(new Error(`the Nuxt server exited with ${code}: ${output.join("")}`)));
    });
  }, 240_000);

  afterAll(() => {
    server?.kill();
  });

  const post = (path: string, cookie?: string, body?: unknown) =>
    fetch(url + path, {
      method: "POST",
      headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) },
      body: JSON.stringify(body ?? {}),
    });

  it("signs in, counts per session, and signs out, with the cookie rules of every adapter", async () => {
    const signIn = await post("/api/sign-in", undefined, { user: "ada" });
    expect(signIn.status).toBe(200);
    expect(await signIn.json()).toEqual({ user: "ada" });
    const [line] = signIn.headers.getSetCookie();
    expect(line).toMatch(/^sid=[\w-]{43}; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(signIn.headers.get("cache-control")).toBe("no-store");
    const cookie = line!.split(";")[0]!;

    expect(await (await post("/api/count", cookie)).json()).toEqual({ n: 1 });
    expect(await (await post("/api/count", cookie)).json()).toEqual({ n: 2 });
    expect(await (await post("/api/count")).json()).toEqual({ n: 1 }); // another visitor

    const signOut = await post("/api/sign-out", cookie);
    expect(await signOut.json()).toEqual({ signedOut: true });
    expect(signOut.headers.getSetCookie()[0]).toMatch(/^sid=; Max-Age=0; .*Expires=Thu, 01 Jan 1970/);
    expect(await (await post("/api/count", cookie)).json()).toEqual({ n: 1 }); // the old cookie loads nothing
  });

  it("type-checks the server files as written against Nuxt's own tsconfig (h3 1's types)", async () => {
    // nuxt build generated .nuxt/tsconfig.server.json (its paths include the sessionkit aliases).
    const tsc = fileURLToPath(new URL("../node_modules/typescript/bin/tsc", import.meta.url));
    const result = await promisify(execFile)(process.execPath, [tsc, "-p", ".nuxt/tsconfig.server.json", "--noEmit"], { cwd: appDir }).catch(
      (error: { stdout: string }) => error,
    );
    expect(result.stdout).toBe("");
  });

  it("serves a page that never touches the session without a cookie", async () => {
    const page = await fetch(url + "/");
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("sessionkit on Nuxt 4");
    expect(page.headers.getSetCookie()).toEqual([]);
  });

  const cookieOf = (response: Response) => response.headers.getSetCookie().find((line) => line.startsWith("sid="))?.split(";")[0];
  const read = async (cookie?: string) => (await fetch(url + "/api/read", { headers: cookie ? { cookie } : {} })).json();
  const signedOut = { data: {}, userId: null };

  it("Secure over https: a request forwarded as https (x-forwarded-proto, h3 1's rule) gets a Secure cookie", async () => {
    const forwarded = await fetch(url + "/api/count", { method: "POST", headers: { "x-forwarded-proto": "https" } });
    expect(forwarded.headers.getSetCookie()[0]?.split("; ")).toContain("Secure");
    expect((await post("/api/count")).headers.getSetCookie()[0]?.split("; ")).not.toContain("Secure"); // plain http under "auto"
  });

  it("two different sid cookies load neither: both orders read signed out, and a write starts a new session", async () => {
    const victim = cookieOf(await post("/api/sign-in", undefined, { user: "victim" }));
    const attacker = cookieOf(await post("/api/sign-in", undefined, { user: "attacker" }));
    for (const cookie of [`${victim}; ${attacker}`, `${attacker}; ${victim}`]) expect(await read(cookie)).toEqual(signedOut);
    const write = await post("/api/count", `${victim}; ${attacker}`);
    expect(await write.json()).toEqual({ n: 1 });
    expect([victim, attacker]).not.toContain(cookieOf(write));
    expect(await read(victim)).toEqual({ data: { user: "victim" }, userId: "victim" });
  });

  it("signIn → listSessions → revokeUser ends every session of the user", async () => {
    const laptop = cookieOf(await post("/api/sign-in", undefined, { user: "ada" }));
    const phone = cookieOf(await post("/api/sign-in", undefined, { user: "ada" }));
    expect(await read(phone)).toEqual({ data: { user: "ada" }, userId: "ada" });
    const handles = (await (await fetch(url + "/api/devices", { headers: { cookie: laptop! } })).json()) as string[];
    expect(handles).toHaveLength(2);
    expect(await (await post("/api/devices", laptop)).json()).toEqual({ revoked: 2 });
    for (const cookie of [phone, laptop]) expect(await read(cookie)).toEqual(signedOut);
  });

  it("no-store on every response with the cookie; the app's shareable Cache-Control becomes private, no-store", async () => {
    const count = await post("/api/count");
    const publicRead = await fetch(url + "/api/public");
    const signIn = await post("/api/sign-in", cookieOf(count), { user: "ada" });
    const signOut = await post("/api/sign-out", cookieOf(signIn));
    const responses = [count, publicRead, signIn, signOut];
    for (const response of responses) expect(response.headers.getSetCookie()).toHaveLength(1);
    expect(responses.map((response) => response.headers.get("cache-control"))).toEqual(["no-store", "private, no-store", "no-store", "no-store"]);
  });

  // The lab routes (test-server/routes/lab/) run a second manager beside the documented one:
  // cookie.secure: true with the name __Host-sid, an onEvent that records, and a store the test
  // holds on a barrier or takes down through POST /lab/store (test-server/utils/lab-sessions.ts).
  const lab = (method: string, path: string, cookie?: string, body?: string) =>
    fetch(`${url}/lab/${path}`, { method, headers: cookie ? { cookie } : {}, body });
  const labStore = async (command: string) => expect((await lab("POST", "store", undefined, command)).status).toBeLessThan(300);
  const labCookieOf = (response: Response) => response.headers.getSetCookie().find((line) => line.startsWith("__Host-sid="))?.split(";")[0];
  const labRead = async (cookie?: string) => (await lab("GET", "read", cookie)).json();

  it("cookie.secure: true with the name __Host-sid: Secure, Path=/, no Domain, and it loads back", async () => {
    const response = await lab("POST", "count");
    const attributes = response.headers.getSetCookie().find((line) => line.startsWith("__Host-sid="))?.split("; ").slice(1);
    expect(attributes).toEqual(expect.arrayContaining(["Secure", "Path=/", "HttpOnly"]));
    expect(attributes?.some((attribute) => attribute.toLowerCase().startsWith("domain="))).toBe(false);
    expect(await labRead(labCookieOf(response))).toEqual({ data: { n: 1 }, userId: null });
  });

  it("two different session cookies load neither, each with an ambiguous-cookie event, and a write starts a new session", async () => {
    const victim = labCookieOf(await lab("POST", "sign-in?user=victim"));
    const attacker = labCookieOf(await lab("POST", "sign-in?user=attacker"));
    const ambiguous = async () => ((await (await lab("GET", "events")).json()) as string[]).filter((type) => type === "ambiguous-cookie").length;
    const before = await ambiguous();
    for (const cookie of [`${victim}; ${attacker}`, `${attacker}; ${victim}`]) expect(await labRead(cookie)).toEqual(signedOut);
    expect(await ambiguous()).toBe(before + 2);
    const write = await lab("POST", "count", `${victim}; ${attacker}`);
    expect(await write.json()).toEqual({ n: 1 });
    expect([victim, attacker]).not.toContain(labCookieOf(write));
    expect(await labRead(victim)).toEqual({ data: {}, userId: "victim" });
  });

  it("a sign-in superseded by a sign-out meanwhile sends no cookie: the user stays signed out", async () => {
    // Unraced, a sign-in over a live session sends the new id's cookie: its absence below means something.
    expect(labCookieOf(await lab("POST", "sign-in?user=eve", labCookieOf(await lab("POST", "count"))))).toBeDefined();
    const cookie = labCookieOf(await lab("POST", "count"));
    // Forced, not timed: the sign-in parks at its first store write (a GatedStore barrier), after
    // the middleware loaded the session; the sign-out runs to the end meanwhile; then the sign-in
    // goes on and finds the session it rotates gone.
    await labStore("hold");
    const signingIn = lab("POST", "sign-in?user=mallory", cookie);
    await labStore("reached");
    const signOut = await lab("POST", "sign-out", cookie);
    expect(signOut.headers.getSetCookie()[0]).toMatch(/^__Host-sid=; /);
    await labStore("release");
    const late = await signingIn;
    expect(late.status).toBeLessThan(500);
    expect(late.headers.getSetCookie()).toEqual([]);
    expect(await labRead(cookie)).toEqual(signedOut);
  });

  it("a store failure answers 500 with no cookie, with and without a session, and the session outlives it", async () => {
    const cookie = labCookieOf(await lab("POST", "count"));
    await labStore("down");
    try {
      for (const failed of [await lab("POST", "count", cookie), await lab("POST", "count")]) {
        expect(failed.status).toBe(500);
        expect(failed.headers.getSetCookie()).toEqual([]);
      }
    } finally {
      await labStore("up");
    }
    expect(await labRead(cookie)).toEqual({ data: { n: 1 }, userId: null });
  });

  it("useSession(event) is the whole Session: every member works from a server route", async () => {
    const response = await post("/api/every-member");
    const report = (await response.json()) as Record<string, unknown>;
    expect(report).toEqual(everyMemberReport("ada"));
    const cookie = cookieOf(response);
    expect(await read(cookie)).toEqual({ data: { kept: true }, userId: "ada" });
    expect(await (await fetch(url + "/api/devices", { headers: { cookie: cookie! } })).json()).toEqual([report.handle]);
    const signOut = await post("/api/sign-out", cookie);
    expect(signOut.headers.getSetCookie()[0]).toMatch(/^sid=; Max-Age=0/);
    expect(await read(cookie)).toEqual(signedOut);
  });
});

/**
 * sessionkit/h3 in a real Nuxt 4 app (test/apps/nuxt; Nitro 2 on h3 1): its server/ files are the
 * Nuxt block of docs/adapters.md as written, built by `nuxt build` and served by
 * `node .output/server/index.mjs` on 127.0.0.1, driven by fetch.
 */
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./support/servers.js";

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
});

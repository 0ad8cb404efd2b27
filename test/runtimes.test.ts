/**
 * sessionkit on Bun, Deno and Cloudflare's workerd, through the built package (npm test builds
 * first): the store conformance suite on each runtime for every store whose driver runs there,
 * and HTTP round trips through sessionkit/hono on Bun.serve, Deno.serve and in a Worker.
 *
 * The runtimes are devDependencies (npm's `bun`, `deno` and `miniflare` packages), pinned to the
 * versions docs/adapters.md names. SESSIONKIT_RUNTIMES=skip skips this file: .ci/run sets it for
 * its second Node version, so the runtimes run once per CI run.
 */
import { spawn } from "node:child_process";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MemoryStore } from "../src/index.js";
import { conformanceCases } from "../src/testing/index.js";
import { MYSQL_URL, POSTGRES_URL, REDIS_URL, serverAvailable } from "./support/servers.js";

const ROOT = join(import.meta.dirname, "..");
const FIXTURES = join(import.meta.dirname, "runtimes");
const pinned = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> }).devDependencies;
const skipAll = process.env.SESSIONKIT_RUNTIMES === "skip";
if (skipAll) console.warn("\n!!! SKIPPING the Bun, Deno and workerd tests: SESSIONKIT_RUNTIMES=skip.\n");

interface Runtime {
  name: "bun" | "deno";
  bin: string;
  /** The command line that runs a script file. */
  args: (file: string, ...rest: string[]) => string[];
}

const runtimes: Runtime[] = [
  { name: "bun", bin: join(ROOT, "node_modules", ".bin", "bun"), args: (file, ...rest) => [file, ...rest] },
  { name: "deno", bin: join(ROOT, "node_modules", ".bin", "deno"), args: (file, ...rest) => ["run", "-A", file, ...rest] },
];

function present(runtime: Runtime): boolean {
  if (skipAll) return false;
  if (existsSync(runtime.bin)) return true;
  console.warn(`\n!!! SKIPPING the ${runtime.name} tests: ${runtime.bin} is missing (npm ci installs it).\n`);
  return false;
}

const children = new Set<ReturnType<typeof spawn>>();
afterAll(() => {
  for (const child of children) child.kill();
});

/** Runs a fixture to its end; resolves to its stdout, rejects with its stderr on failure. */
function runToEnd(runtime: Runtime, file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(runtime.bin, runtime.args(join(FIXTURES, file), ...args), { cwd: ROOT, env: process.env });
    children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      children.delete(child);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${runtime.name} ${file} exited with ${code}:\n${stderr}`));
    });
  });
}

/** Starts an app (a fixture, or a file written from the docs); resolves to its base URL once it listens. */
function startApp(runtime: Runtime, file: string, ...args: string[]): Promise<{ url: string; stop: () => void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(runtime.bin, runtime.args(join(FIXTURES, file), ...args), { cwd: ROOT, env: { ...process.env, PORT: "0" } });
    children.add(child);
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on("data", (chunk: Buffer) => {
      const port = /listening (?:on http:\/\/[^:]+:)?(\d+)/.exec(chunk.toString())?.[1];
      if (port) resolve({ url: `http://127.0.0.1:${port}`, stop: () => (child.kill(), children.delete(child)) });
    });
    child.on("close", (code) => reject(new Error(`${runtime.name} ${file} exited with ${code} before listening:\n${stderr}`)));
  });
}

const ADAPTERS_DOC = readFileSync(join(ROOT, "docs", "adapters.md"), "utf8");

/** The first ```ts block under a heading of docs/adapters.md. */
function docsBlock(heading: string, language = "ts"): string {
  const section = ADAPTERS_DOC.slice(ADAPTERS_DOC.indexOf(`\n${heading}\n`));
  // An info string after the language (e.g. "nocheck": docs.test.ts does not type-check it under Node's types) is allowed.
  const block = new RegExp("```" + language + "(?: [^\\n]*)?\\n([\\s\\S]*?)```").exec(section)?.[1];
  if (!block) throw new Error(`docs/adapters.md has no ${language} block under ${heading}`);
  return block;
}

const redisUp = !skipAll && (await serverAvailable("Redis", "REDIS_URL", REDIS_URL));
const postgresUp = !skipAll && (await serverAvailable("PostgreSQL", "POSTGRES_URL", POSTGRES_URL));
const mysqlUp = !skipAll && (await serverAvailable("MariaDB/MySQL", "MYSQL_URL", MYSQL_URL));
/**
 * Every store the conformance fixture knows, with the driver it uses; each runs on both runtimes.
 * "sqlite" is the runtime's own SQLite: bun:sqlite on Bun, node:sqlite on Deno.
 */
const stores = ["memory", "sqlite", ...(redisUp ? ["node-redis", "ioredis"] : []), ...(postgresUp ? ["pg"] : []), ...(mysqlUp ? ["mysql2"] : [])];

interface StoreReport {
  passed: number;
  failed: Array<{ case: string; error: string }>;
  skipped: Array<{ case: string; note: string }>;
}

const CASES = conformanceCases(() => new MemoryStore()).length;
/** Stores that keep their owner index inside set() report the indexOwner() case as skipped. */
const INDEX_IN_SET = new Set(["memory", "sqlite", "pg", "mysql2"]);
/** Stores that expire records natively (no gc()) report the gc "expired" event case as skipped. */
const NATIVE_EXPIRY = new Set(["node-redis", "ioredis"]);

describe.concurrent.each(runtimes)("$name", (runtime) => {
  const test = present(runtime) ? it : it.skip;

  test(`runs the pinned version, and passes the conformance suite with ${stores.join(", ")}`, async () => {
    const report = JSON.parse(await runToEnd(runtime, "conformance.mjs", stores)) as { runtime: string; stores: Record<string, StoreReport> };
    expect(report.runtime).toBe(`${runtime.name} ${pinned[runtime.name]}`);
    for (const name of stores) {
      const result = report.stores[name]!;
      expect(result.failed, `${name} on ${runtime.name}`).toEqual([]);
      const skipped = (INDEX_IN_SET.has(name) ? 1 : 0) + (NATIVE_EXPIRY.has(name) ? 1 : 0);
      expect(result.skipped.map((s) => s.case), `${name} skips only the indexOwner() and gc cases, if any`).toHaveLength(skipped);
      expect(result.passed, `${name}: every other case of the suite passed`).toBe(CASES - skipped);
    }
  }, 120_000);

  test("the app of docs/adapters.md counts 1, 2, 3", async () => {
    // Written beside the fixtures, so that "sessionkit" and "hono" resolve as in an app.
    const file = `.docs-${runtime.name}-${process.pid}.ts`;
    writeFileSync(join(FIXTURES, file), docsBlock(runtime.name === "bun" ? "### Bun" : "### Deno"));
    try {
      const app = await startApp(runtime, file);
      try {
        let cookie: string | undefined;
        for (const expected of ["1", "2", "3"]) {
          const response = await fetch(`${app.url}/`, { headers: cookie ? { cookie } : {} });
          expect(await response.text()).toBe(expected);
          cookie ??= cookieOf(response);
        }
      } finally {
        app.stop();
      }
    } finally {
      rmSync(join(FIXTURES, file), { force: true });
    }
  }, 60_000);

  describe.each(["memory", "cookie"])("Hono on the runtime's own server, %s sessions", (store) => {
    test("sign in, count, sign out; Cache-Control and cookie flags; a failing store answers 500", async () => {
      const app = await startApp(runtime, "hono-app.mjs", store);
      try {
        await roundTrip(app.url, store === "memory");
      } finally {
        app.stop();
      }
    }, 60_000);
  });
});

const cookieOf = (response: Response) => response.headers.get("set-cookie")?.split(";")[0];

/** What a browser does, step by step; `serverSide`: a signed-out or rotated id is gone for good. */
async function roundTrip(base: string, serverSide: boolean): Promise<void> {
  const get = (path: string, cookie?: string, method = "GET") => fetch(base + path, { method, headers: cookie ? { cookie } : {} });

  const first = await get("/app/count");
  expect(first.status).toBe(200);
  expect(await first.text()).toBe("1");
  const setCookie = first.headers.get("set-cookie")!;
  expect(setCookie).toMatch(/^sid=[\w-]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax$/); // plain HTTP: no Secure
  expect(first.headers.get("cache-control")).toBe("no-store");
  let cookie = cookieOf(first)!;

  for (const expected of ["2", "3"]) {
    const next = await get("/app/count", cookie);
    expect(await next.text()).toBe(expected);
    cookie = cookieOf(next) ?? cookie; // cookie sessions send new sealed content each time
  }
  const plain = await get("/app/me", cookie);
  expect(await plain.text()).toBe("nobody");
  expect(plain.headers.get("set-cookie"), "a request that changes nothing sends no cookie").toBeNull();

  const signIn = await get("/app/sign-in", cookie, "POST");
  expect(await signIn.text()).toBe("signed in");
  const signedIn = cookieOf(signIn)!;
  expect(signedIn, "signing in rotates the session id").not.toBe(cookie);
  expect(signIn.headers.get("cache-control")).toBe("no-store");
  expect(await (await get("/app/me", signedIn)).text()).toBe("ada");
  expect(await (await get("/app/count", signedIn)).text(), "the data survives the sign-in").toBe("4");
  if (serverSide) expect(await (await get("/app/me", cookie)).text(), "the pre-sign-in id is gone").toBe("nobody");

  const signOut = await get("/app/sign-out", signedIn, "POST");
  expect(await signOut.text()).toBe("signed out");
  expect(signOut.headers.get("set-cookie")).toMatch(/^sid=; .*(Max-Age=0|Expires=Thu, 01 Jan 1970)/);
  if (serverSide) expect(await (await get("/app/me", signedIn)).text(), "a replayed cookie after sign-out is not signed in").toBe("nobody");

  // The store is down: loading a session fails, and the app answers 5xx rather than a fresh session.
  const broken = await get("/broken/count", `sid=${"A".repeat(43)}`);
  expect(broken.status).toBe(500);
}

// ---- Cloudflare Workers: workerd through miniflare ----

/** What docs/adapters.md's wrangler.toml says; miniflare is given the same. */
const COMPATIBILITY = { compatibilityDate: "2025-07-18", compatibilityFlags: ["nodejs_compat"] };
const workerdTest = skipAll ? it.skip : it;

/**
 * Bundles a fixture as wrangler does (esbuild, the "workerd" export condition, node: built-ins
 * left to nodejs_compat). `absent` lists built-ins this workerd lacks that the bundle imports but
 * never calls: sessionkit/testing's storeConformance finds the test runner with node:fs and
 * node:module, which the worker does not use (it runs conformanceCases itself).
 */
async function bundle(fixture: string, absent: string[] = []): Promise<string> {
  const result = await build({
    entryPoints: [join(FIXTURES, fixture)],
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["node:*"],
    write: false,
    logLevel: "silent",
    plugins: [
      {
        name: "absent-built-ins",
        setup(esbuild) {
          esbuild.onResolve({ filter: /^node:/ }, (args) => (absent.includes(args.path) ? { path: args.path, namespace: "absent" } : undefined));
          esbuild.onLoad({ filter: /.*/, namespace: "absent" }, () => ({
            contents: "const absent = () => { throw new Error('not in workerd'); }; export const readFileSync = absent, createRequire = absent;",
          }));
        },
      },
    ],
  });
  return result.outputFiles[0]!.text;
}

/**
 * `bindings`: "durable" — the Worker exports SessionObject, bound as SESSIONS as in
 * docs/adapters.md's wrangler.toml; "d1" — a local D1 database bound as DB.
 */
async function worker(fixture: string, bindingKind: "none" | "durable" | "d1", absent?: string[]): Promise<Miniflare> {
  const contents = await bundle(fixture, absent);
  const bindings = { none: {}, durable: { durableObjects: { SESSIONS: "SessionObject" } }, d1: { d1Databases: ["DB"] } }[bindingKind];
  const mf = new Miniflare({ modules: [{ type: "ESModule", path: "worker.mjs", contents }], ...COMPATIBILITY, ...bindings });
  afterAll(() => mf.dispose());
  return mf;
}

describe("Cloudflare Workers (workerd via miniflare)", () => {
  workerdTest("a Hono app with CookieStore counts 1, 2, 3", async () => {
    const mf = await worker("worker-counter.ts", "none");
    let cookie = "";
    for (const expected of ["1", "2", "3"]) {
      const response = await mf.dispatchFetch("http://localhost/", { headers: cookie ? { cookie } : {} });
      expect(response.status).toBe(200);
      expect(await response.text()).toBe(expected);
      cookie = response.headers.get("set-cookie")!.split(";")[0]!;
    }
  }, 60_000);

  workerdTest("DurableObjectStore passes the conformance suite inside workerd, one request per case", async () => {
    const mf = await worker("worker-conformance.ts", "durable", ["node:fs", "node:module"]);
    const failed: unknown[] = [];
    const skipped: string[] = [];
    let passed = 0;
    for (let index = 0; index < CASES; index++) {
      const report = (await (await mf.dispatchFetch(`http://localhost/?case=${index}`)).json()) as StoreReport;
      passed += report.passed;
      failed.push(...report.failed);
      skipped.push(...report.skipped.map((s) => s.case));
    }
    expect(failed).toEqual([]);
    // No count() or gc(): records expire by alarm and by read-time checks, and a count would scan every object.
    expect(skipped).toEqual(["count and gc figures are exact", 'gc() that removed expired sessions emits one "expired" event with their count']);
    expect(passed).toBe(CASES - 2);
  }, 120_000);

  workerdTest("SqliteStore over a D1 binding passes the conformance suite inside workerd, one request per case", async () => {
    const mf = await worker("worker-d1-conformance.ts", "d1", ["node:fs", "node:module"]);
    const failed: unknown[] = [];
    const skipped: string[] = [];
    let passed = 0;
    for (let index = 0; index < CASES; index++) {
      const report = (await (await mf.dispatchFetch(`http://localhost/?case=${index}`)).json()) as StoreReport;
      passed += report.passed;
      failed.push(...report.failed);
      skipped.push(...report.skipped.map((s) => s.case));
    }
    expect(failed).toEqual([]);
    // As on every runtime: set() keeps the owner column itself, so there is no indexOwner() to order.
    expect(skipped).toEqual(["the index entry is written before the record it points to"]);
    expect(passed).toBe(CASES - 1);
  }, 120_000);

  workerdTest("the D1 Worker of docs/stores/sqlite.md counts 1, 2, 3", async () => {
    // Written beside the fixtures, so that "sessionkit" resolves as in an app.
    const file = `.docs-d1-${process.pid}.ts`;
    const doc = readFileSync(join(ROOT, "docs", "stores", "sqlite.md"), "utf8");
    const block = /### Cloudflare D1\n[\s\S]*?```ts\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block, "docs/stores/sqlite.md has a ts block under ### Cloudflare D1").toBeDefined();
    writeFileSync(join(FIXTURES, file), block!);
    try {
      const mf = await worker(file, "d1");
      let cookie = "";
      for (const expected of ["1", "2", "3"]) {
        const response = await mf.dispatchFetch("http://localhost/", { headers: cookie ? { cookie } : {} });
        expect(await response.text()).toBe(expected);
        cookie = response.headers.get("set-cookie")?.split(";")[0] ?? cookie;
      }
    } finally {
      rmSync(join(FIXTURES, file), { force: true });
    }
  }, 60_000);

  it("docs/adapters.md shows this Worker app verbatim, and the wrangler.toml this test gives miniflare", () => {
    expect(docsBlock("### Cloudflare Workers — `sessionkit/cloudflare`", "ts")).toBe(readFileSync(join(FIXTURES, "worker-app.ts"), "utf8"));
    const toml = docsBlock("### Cloudflare Workers — `sessionkit/cloudflare`", "toml");
    expect(toml).toContain(`compatibility_date = "${COMPATIBILITY.compatibilityDate}"`);
    expect(toml).toContain(`compatibility_flags = ${JSON.stringify(COMPATIBILITY.compatibilityFlags)}`);
    expect(toml).toMatch(/name = "SESSIONS"\nclass_name = "SessionObject"/);
  });

  workerdTest("the docs' Worker app signs in, counts, lists devices, signs out everywhere, and signs out", async () => {
    const mf = await worker("worker-app.ts", "durable");
    const send = async (path: string, cookie: string | undefined, init: { method?: string; body?: string; agent?: string } = {}) => {
      const headers: Record<string, string> = { "user-agent": init.agent ?? "test", "content-type": "application/x-www-form-urlencoded" };
      if (cookie) headers.cookie = cookie;
      const response = await mf.dispatchFetch(`http://localhost${path}`, { method: init.method ?? "GET", body: init.body, headers });
      return { status: response.status, text: await response.text(), cookie: response.headers.get("set-cookie")?.split(";")[0] };
    };
    const signIn = async (cookie: string | undefined, agent: string) => {
      const response = await send("/sign-in", cookie, { method: "POST", body: "user=ada", agent });
      expect(response.text).toBe("signed in");
      return response.cookie!;
    };

    const first = await send("/count", undefined);
    expect(first.text).toBe("1");
    const laptop = await signIn(first.cookie, "Laptop");
    expect(laptop, "the id rotates at sign-in").not.toBe(first.cookie);
    expect((await send("/count", laptop)).text).toBe("2");
    expect((await send("/me", first.cookie!)).text, "the pre-sign-in id is gone").toBe("nobody");
    const phone = await signIn(undefined, "Phone");
    const devices = JSON.parse((await send("/devices", laptop)).text) as Array<{ userAgent: string }>;
    expect(devices.map((d) => d.userAgent).sort()).toEqual(["Laptop", "Phone"]);

    expect((await send("/sign-out-everywhere", phone, { method: "POST" })).text).toBe("ended 2");
    expect((await send("/me", laptop)).text).toBe("nobody");
    expect((await send("/me", phone)).text).toBe("nobody");

    const tablet = await signIn(undefined, "Tablet");
    expect((await send("/me", tablet)).text).toBe("ada");
    const out = await send("/sign-out", tablet, { method: "POST" });
    expect(out.text).toBe("signed out");
    expect((await send("/me", tablet)).text, "a replayed cookie after sign-out is not signed in").toBe("nobody");
  }, 60_000);
});

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The package as npm publishes it: `npm pack` of the built tree (npm test builds first), checked
// the way the ecosystem checks packages, and installed into a project that has none of the peers.
const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "node_modules", ".bin");
const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  name: string;
  exports: Record<string, string | { types: string; default: string }>;
  bin: Record<string, string>;
  peerDependencies: Record<string, string>;
};
const work = mkdtempSync(join(tmpdir(), "sessionkit-pack-"));
let tarball = "";
let files: string[] = [];

beforeAll(async () => {
  // --ignore-scripts: the tree is already built; `prepack` would only build it again.
  const { stdout } = await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], { cwd: ROOT });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(work, packed!.filename);
  files = packed!.files.map((file) => file.path);
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const subpaths = Object.entries(manifest.exports).filter(([subpath]) => subpath !== "./package.json");
const strip = (path: string) => path.replace(/^\.\//, "");

describe("the tarball", () => {
  it("holds every export's .js and .d.ts, the bin, LICENSE and CHANGELOG", () => {
    for (const [, target] of subpaths) {
      if (typeof target === "string") throw new Error(`export ${target} has no types condition`);
      expect(files).toContain(strip(target.default));
      expect(files).toContain(strip(target.types));
    }
    expect(files).toContain(strip(manifest.bin.sessionkit!));
    expect(files).toEqual(expect.arrayContaining(["LICENSE", "CHANGELOG.md", "README.md", "package.json"]));
  });

  it("runs no script when installed: the build is prepack's, not prepare's", async () => {
    const { stdout } = await run("tar", ["-xzOf", tarball, "package/package.json"]);
    const scripts = (JSON.parse(stdout) as { scripts?: Record<string, string> }).scripts ?? {};
    // npm runs these (prepare too, for a git or local-folder install) in the installing project.
    expect(Object.keys(scripts).filter((name) => /^(pre|post)?install$|^prepare$/.test(name))).toEqual([]);
    expect(scripts.prepack).toBe("npm run build");
  });

  it("holds nothing from test/, bench/, examples/ or src/", () => {
    expect(files.filter((path) => /^(test|bench|examples|src|artifacts|\.ci)\//.test(path))).toEqual([]);
  });

  it("source maps carry their sources, so they point at nothing the package lacks", async () => {
    const maps = files.filter((path) => path.endsWith(".js.map"));
    expect(maps.length).toBeGreaterThan(0);
    await run("tar", ["-xzf", tarball, "-C", work]);
    for (const path of maps) {
      const map = JSON.parse(readFileSync(join(work, "package", path), "utf8")) as { sources: string[]; sourcesContent?: string[] };
      expect(map.sourcesContent, path).toHaveLength(map.sources.length);
    }
  });

  it("passes publint (strict) and arethetypeswrong (ESM-only profile)", async () => {
    const publint = await run(join(BIN, "publint"), ["run", tarball, "--strict"]);
    expect(publint.stdout).toContain("All good!");
    // Exit code 0 is the pass; ESM-only: CommonJS callers use import() (or Node's require(esm)).
    await run(join(BIN, "attw"), [tarball, "--profile", "esm-only", "--format", "table-flipped"]);
  }, 120_000);
});

describe("installed without any peer dependency", () => {
  let project = "";
  const node = (code: string) => run(process.execPath, ["--input-type=module", "-e", code], { cwd: project });

  beforeAll(async () => {
    project = mkdtempSync(join(work, "app-"));
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    // Peers are optional, so none is installed; cookie and ms come from npm's cache when it has them.
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball], { cwd: project });
  }, 120_000);

  it("has none of the peers", async () => {
    for (const peer of Object.keys(manifest.peerDependencies)) {
      await expect(node(`await import(${JSON.stringify(peer)})`), peer).rejects.toThrow(/Cannot find (package|module)/);
    }
  });

  // sessionkit/next keeps static imports of next/headers and next/server: Next.js bundles server
  // code, and only a static import is sure to share Next's request context (cookies(), after()).
  const STATIC_PEER = { "./next": "next" } as Record<string, string>;

  it("imports every subpath", async () => {
    const names = subpaths
      .filter(([subpath]) => !(subpath in STATIC_PEER))
      .map(([subpath]) => (subpath === "." ? manifest.name : `${manifest.name}/${subpath.slice(2)}`));
    const { stdout } = await node(`for (const name of ${JSON.stringify(names)}) await import(name); console.log("ok");`);
    expect(stdout).toBe("ok\n");
  });

  it("sessionkit/next, which must import next statically, names next when it is missing", async () => {
    for (const [subpath, peer] of Object.entries(STATIC_PEER)) {
      await expect(node(`await import("sessionkit/${subpath.slice(2)}")`)).rejects.toThrow(`Cannot find package '${peer}'`);
    }
  });

  it("says which package to install when a store needs its missing driver", async () => {
    const attempt = (module: string, make: string) =>
      node(`const m = await import("${module}"); try { ${make}; } catch (e) { console.log(e.name + ": " + e.message); }`);
    expect((await attempt("sessionkit/postgres", 'new m.PostgresStore({ connectionString: "postgres://h/db" })')).stdout).toBe(
      'TypeError: install pg to use sessionkit/postgres with option "connectionString" (npm install pg)\n',
    );
    expect((await attempt("sessionkit/mysql", 'new m.MySQLStore({ uri: "mysql://h/db" })')).stdout).toBe(
      'TypeError: install mysql2 to use sessionkit/mysql with option "uri" (npm install mysql2)\n',
    );
    expect((await attempt("sessionkit/dynamodb", "new m.DynamoStore({ client: { send() {} } })")).stdout).toBe(
      "TypeError: install @aws-sdk/client-dynamodb to use sessionkit/dynamodb (npm install @aws-sdk/client-dynamodb)\n",
    );
    const h3 = await node(`
      const { SessionManager } = await import("sessionkit");
      const { sessionMiddleware } = await import("sessionkit/h3");
      const middleware = sessionMiddleware(new SessionManager({ provider: "memory" }));
      await middleware({}, () => {}).catch((e) => console.log(e.name + ": " + e.message));`);
    expect(h3.stdout).toBe("TypeError: install h3 to use sessionkit/h3 (npm install h3)\n");
  });

  it("the sessionkit bin runs, and says which driver to install", async () => {
    const cli = join(project, "node_modules", ".bin", "sessionkit");
    expect((await run(cli, ["--help"])).stdout).toMatch(/^usage: sessionkit/);
    const failed = await run(cli, ["count", "--store", "postgres://127.0.0.1/test"]).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 1, stderr: 'sessionkit: install pg to use provider "postgresql" (npm install pg)\n' });
  });
});

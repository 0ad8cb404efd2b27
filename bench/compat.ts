/**
 * What `compat: "express-session"` costs per request: server CPU time per request of an Express
 * app on sessionkit's plain API, on the compat view, and on express-session itself, for the
 * request every Passport app makes (read `passport.user`, an object) and for a write (`views++`).
 *
 *   npm run build && npx tsx bench/compat.ts [--duration S] [--rounds N]
 *
 * Each server is a child process of its own (`--serve <variant>`), reporting its own CPU time
 * (process.cpuUsage) over IPC, so the load generator's work is not counted. First, without HTTP,
 * tinybench times the compat view's own work per request (create, read, compare at commit)
 * against the plain Session on the same MemoryStore sessions: the figure HTTP noise can hide.
 */
import type { ChildProcess } from "node:child_process";
import { fork } from "node:child_process";
import type { Server } from "node:http";
import { fileURLToPath } from "node:url";
import type { Request, RequestHandler } from "express";
import { importAs, REPO_ROOT } from "./lib.js";

const VARIANTS = ["sessionkit", "sessionkit-compat", "express-session"] as const;
type Variant = (typeof VARIANTS)[number];
const CONNECTIONS = 50;

type Data = { passport?: { user: string }; views?: number };
/** The two ways code reads the session: sessionkit's get/set, or express-session's plain properties. */
interface Access {
  read(req: Request): Data["passport"];
  write(req: Request): number;
}
const plain: Access = {
  read: (req) => req.session.get("passport" as never) as Data["passport"],
  write: (req) => {
    const views = ((req.session.get("views" as never) as number | undefined) ?? 0) + 1;
    req.session.set("views" as never, views as never);
    return views;
  },
};
const properties: Access = {
  read: (req) => (req.session as unknown as Data).passport,
  write: (req) => ((req.session as unknown as Data).views = ((req.session as unknown as Data).views ?? 0) + 1),
};

async function layer(variant: Variant): Promise<RequestHandler> {
  if (variant === "express-session") {
    const session = (await importAs<{ default: (options: object) => RequestHandler }>("express-session")).default;
    return session({ secret: "a bench secret of at least thirty-two characters", resave: false, saveUninitialized: false });
  }
  const { SessionManager, MemoryStore } = await import(`${REPO_ROOT}/dist/index.js`);
  const { sessionMiddleware } = await import(`${REPO_ROOT}/dist/adapters/express.js`);
  const manager = new SessionManager({ store: new MemoryStore(), gcInterval: 0 });
  return sessionMiddleware(manager, variant === "sessionkit-compat" ? { compat: "express-session" } : {});
}

/** The server side: one Express app, its CPU time sampled on request. */
async function serve(variant: Variant): Promise<void> {
  const express = (await importAs<{ default: typeof import("express") }>("express")).default;
  const access = variant === "sessionkit" ? plain : properties;
  const app = express();
  app.use(await layer(variant));
  app.get("/login", (req, res) => {
    if (variant === "sessionkit") req.session.set("passport" as never, { user: "alice" } as never);
    else (req.session as unknown as Data).passport = { user: "alice" };
    res.send("ok");
  });
  app.get("/read", (req, res) => void res.send(access.read(req)?.user ?? "nobody"));
  app.get("/write", (req, res) => void res.send(String(access.write(req))));
  const server: Server = app.listen(0, "127.0.0.1", () => process.send!({ port: (server.address() as { port: number }).port }));
  process.on("message", (message: string) => {
    if (message === "cpu") process.send!({ cpu: process.cpuUsage() });
    if (message === "stop") server.close(() => process.exit(0));
  });
}

interface Autocannon {
  (options: Record<string, unknown>): Promise<{ requests: { total: number }; non2xx: number; errors: number }>;
}

function ask<T>(child: ChildProcess, message: string): Promise<T> {
  return new Promise((resolve) => {
    child.once("message", (reply) => resolve(reply as T));
    child.send(message);
  });
}

/** Server CPU µs per request for one route and requests per second, after a warm-up. */
async function measure(server: Running, route: string, seconds: number): Promise<{ cpuPerRequest: number; perSecond: number }> {
  const autocannon = (await importAs<{ default: Autocannon }>("autocannon")).default;
  let next = 0;
  // One session per connection, as bench/http/load.ts does: requests of one session never overlap.
  const run = (duration: number) =>
    autocannon({
      url: server.url,
      connections: CONNECTIONS,
      duration,
      setupClient: (client: { setRequests(requests: object[]): void }) =>
        client.setRequests([{ method: "GET", path: route, headers: { cookie: server.cookies[next++ % server.cookies.length]! } }]),
    });
  await run(1);
  const before = await ask<{ cpu: NodeJS.CpuUsage }>(server.child, "cpu");
  const result = await run(seconds);
  const after = await ask<{ cpu: NodeJS.CpuUsage }>(server.child, "cpu");
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${route}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  const cpu = after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system;
  return { cpuPerRequest: cpu / result.requests.total, perSecond: result.requests.total / seconds };
}

interface Running {
  variant: Variant;
  child: ChildProcess;
  url: string;
  cookies: string[];
}

async function start(variant: Variant): Promise<Running> {
  const child = fork(fileURLToPath(import.meta.url), ["--serve", variant], { execArgv: ["--import", "tsx"] });
  const { port } = await new Promise<{ port: number }>((resolve) => child.once("message", (m) => resolve(m as { port: number })));
  const url = `http://127.0.0.1:${port}`;
  const cookies: string[] = [];
  for (let i = 0; i < CONNECTIONS; i++) cookies.push((await fetch(`${url}/login`)).headers.getSetCookie()[0]!.split(";")[0]!);
  return { variant, child, url, cookies };
}

const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Rounds visit the variants in a rotating order, so a burst of load on the machine hits each in turn. */
async function drive(seconds: number, rounds: number): Promise<void> {
  console.log(["| session work, no HTTP (MemoryStore) | ns/request |", "|---|---:|", ...(await micro())].join("\n") + "\n");
  const servers = await Promise.all(VARIANTS.map(start));
  const samples = new Map<string, { cpu: number[]; rate: number[] }>();
  for (let round = 0; round < rounds; round++) {
    for (const route of ["/read", "/write"]) {
      for (let i = 0; i < servers.length; i++) {
        const server = servers[(i + round) % servers.length]!;
        const { cpuPerRequest, perSecond } = await measure(server, route, seconds);
        const key = `| ${server.variant} | ${route} |`;
        const entry = samples.get(key) ?? { cpu: [], rate: [] };
        entry.cpu.push(cpuPerRequest);
        entry.rate.push(perSecond);
        samples.set(key, entry);
      }
    }
  }
  for (const server of servers) server.child.send("stop");
  const rows = [...samples].sort(([a], [b]) => a.localeCompare(b)).map(([key, { cpu, rate }]) => `${key} ${median(cpu).toFixed(1)} | ${Math.round(median(rate))} |`);
  console.log(["| session layer | route | server CPU µs/request (median) | requests/s (median) |", "|---|---|---:|---:|", ...rows].join("\n"));
}

const BATCH = 100;

/** ns per request of the session work alone: load, read or change `passport`/`cart`, commit. */
async function micro(): Promise<string[]> {
  const { Bench } = await importAs<typeof import("tinybench")>("tinybench");
  const { SessionManager, MemoryStore } = await import(`${REPO_ROOT}/dist/index.js`);
  const { createView, syncRequestView } = await import(`${REPO_ROOT}/dist/adapters/express-compat.js`);
  const manager = new SessionManager({ store: new MemoryStore(), gcInterval: 0 });
  const tokens: string[] = [];
  for (let i = 0; i < BATCH; i++) {
    const session = await manager.load();
    session.set("passport", { user: `user-${i}` });
    session.set("cart", { items: [] });
    await manager.commit(session);
    tokens.push(session.id);
  }
  type Cart = { items: number[] };
  const bench = new Bench({ time: 1500, warmupTime: 300 });
  const each = (work: (session: { get(k: string): unknown; set(k: string, v: unknown): void }) => void) => async () => {
    for (const token of tokens) {
      const session = await manager.load(token);
      work(session);
      await manager.prepareCommit(session).persisted;
    }
  };
  const viaView = (work: (view: Data & { cart: Cart }) => void) =>
    each((session) => {
      const req = {} as { session?: unknown };
      work(createView(req, manager, session) as Data & { cart: Cart });
      syncRequestView(req);
    });
  const push = (cart: Cart) => (cart.items.length > 9 ? (cart.items = []) : cart.items.push(1));
  bench
    .add("plain: read passport.user", each((session) => (session.get("passport") as Data["passport"])?.user))
    .add("compat: read passport.user", viaView((view) => view.passport?.user))
    .add("plain: cart.items.push (copy + set)", each((session) => {
      const cart = session.get("cart") as Cart;
      const next = { items: [...cart.items] };
      push(next);
      session.set("cart", next);
    }))
    .add("compat: cart.items.push in place", viaView((view) => push(view.cart)));
  await bench.run();
  return bench.tasks.map((task) => `| ${task.name} | ${((task.result as { latency: { mean: number } }).latency.mean * 1e6 / BATCH).toFixed(0)} |`);
}

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}
const at = process.argv.indexOf("--serve");
if (at > 0) await serve(process.argv[at + 1] as Variant);
else await drive(option("--duration", 5), option("--rounds", 3));

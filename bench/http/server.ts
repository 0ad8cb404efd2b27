/**
 * One contestant's server, run as a child process of the harness (own heap, own event loop):
 *   node bench/.build/http/server.js <contestant-id>
 * compiled by `npm run bench` (bench/tsconfig.servers.json): a contestant runs as plain JavaScript, as in
 * production, because a TypeScript loader costs CPU per request of its own. sessionkit is imported by its
 * package name, which resolves to dist/ as it does for users.
 * Listens on 127.0.0.1 on a free port, reports it over IPC, answers {type:"stats"} with the
 * counters of routes.ts, and on {type:"stop"} closes, drops its store's data and exits
 * (exiting normally is what lets `--cpu-prof` write its profile).
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Request } from "express";
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from "fastify";
import type { MiddlewareHandler } from "hono";
import type { Middleware as KoaMiddleware } from "koa";
import diagnostics from "node:diagnostics_channel";
import { SESSIONKIT_CHANNELS, SessionManager } from "sessionkit";
import { sessionMiddleware } from "sessionkit/express";
import { importAs, importSessionkit } from "../lib.js";
import type { Contestant } from "./contestants.js";
import { BENCH_SECRET, contestantById, IDLE_SECONDS } from "./contestants.js";
import type { SessionView } from "./routes.js";
import { propertyView, stats } from "./routes.js";
import { bareExpress, expressApp } from "./servers/express.js";
import { bareFastify, fastifyApp, floorFastify } from "./servers/fastify.js";
import { floorServer } from "./servers/floor.js";
import { bareHono, floorHono, honoApp } from "./servers/hono.js";
import { bareKoa, floorKoa, koaApp } from "./servers/koa.js";
import type { GetIronSession } from "./servers/node.js";
import { bareNode, cookieSessionNode, ironNode, sessionkitNode } from "./servers/node.js";
import type { Middleware } from "./stores.js";
import { expressSessionMiddleware, sessionkitStore } from "./stores.js";

interface Running {
  listen(): Promise<number>;
  close(): Promise<void>;
}

type Message = { type: "stats" } | { type: "stop" };

const propertiesOf = (holder: unknown): SessionView => propertyView((holder as { session: Record<string, unknown> }).session);
const sessionOf = (holder: unknown): SessionView => (holder as { session: SessionView }).session;

async function build(contestant: Contestant): Promise<Running> {
  const { id, store } = contestant;
  if (id === "bare-node") return onNode(bareNode());
  if (id === "bare-express") return onNode(bareExpress());
  if (id === "bare-fastify") return onFastify(await bareFastify());
  if (id === "bare-koa") return onNode(bareKoa());
  if (id === "bare-hono") return onNode(bareHono());
  if (id === "floor-memory-fastify") return onFastify(await floorFastify());
  if (id === "floor-memory-koa") return onNode(floorKoa());
  if (id === "floor-memory-hono") return onNode(floorHono());
  if (contestant.kind === "floor") {
    const built = await floorServer(store, contestant.readFirst === true);
    return onNode(built.value, built.cleanup);
  }
  if (id === "iron-node") return ironSession();
  if (id === "cookie-session-node") return cookieSession();
  if (id === "fs-memory-fastify") return fastifySession();
  if (contestant.kind === "sessionkit") return sessionkit(contestant);
  if (id === "es-memorystore-express") return expressSession("memorystore");
  if (id === "es-sqlite3-express") return expressSession("connect-sqlite3");
  if (id.startsWith("es-")) return expressSession(store);
  throw new Error(`no builder for contestant "${id}"`);
}

/** What the channels cost once someone listens: every event of every channel delivered to a function that does nothing. */
function subscribeToEveryChannel(): void {
  const ignore = () => {};
  for (const [key, name] of Object.entries(SESSIONKIT_CHANNELS)) {
    if (key === "ended") diagnostics.subscribe(name, ignore);
    else diagnostics.tracingChannel(name).subscribe({ start: ignore, end: ignore, asyncStart: ignore, asyncEnd: ignore, error: ignore });
  }
}

async function sessionkit(contestant: Contestant): Promise<Running> {
  if (contestant.traced) subscribeToEveryChannel();
  const built = await sessionkitStore(contestant.store);
  const manager = new SessionManager({ store: built.value });
  const cleanup = async () => {
    await manager.close();
    await built.cleanup();
  };
  if (contestant.framework === "node:http") return onNode(sessionkitNode(manager), cleanup);
  if (contestant.framework === "express 5") return onNode(expressApp(sessionMiddleware(manager), sessionOf), cleanup);
  if (contestant.framework === "koa 3") {
    const koa = await importSessionkit<{ sessionMiddleware: (m: SessionManager) => KoaMiddleware }>("dist/adapters/koa.js");
    return onNode(koaApp(koa.sessionMiddleware(manager), (ctx) => sessionOf(ctx)), cleanup);
  }
  if (contestant.framework === "hono 4") {
    const hono = await importSessionkit<{ sessionMiddleware: (m: SessionManager) => MiddlewareHandler }>("dist/adapters/hono.js");
    return onNode(honoApp(hono.sessionMiddleware(manager), (c) => c.get("session") as unknown as SessionView), cleanup);
  }
  const { sessionPlugin } = await importSessionkit<{ sessionPlugin: FastifyPluginAsync<{ manager: SessionManager }> }>("dist/adapters/fastify.js");
  const app = await fastifyApp(async (scope) => void (await scope.register(sessionPlugin, { manager })), sessionOf);
  return onFastify(app, cleanup);
}

async function expressSession(kind: string): Promise<Running> {
  const built = await expressSessionMiddleware(kind);
  const view = (req: Request) => propertiesOf(req);
  return onNode(expressApp(built.value as Parameters<typeof expressApp>[0], view), built.cleanup);
}

async function ironSession(): Promise<Running> {
  const { getIronSession } = await importAs<{ getIronSession: GetIronSession }>("iron-session");
  const options = {
    password: BENCH_SECRET,
    cookieName: "iron",
    ttl: IDLE_SECONDS,
    cookieOptions: { httpOnly: true, sameSite: "lax", secure: false },
  };
  return onNode(ironNode(getIronSession, options));
}

async function cookieSession(): Promise<Running> {
  const { default: cookieSession } = await importAs<{ default: (options: Record<string, unknown>) => Middleware }>("cookie-session");
  const middleware = cookieSession({
    name: "session",
    keys: [BENCH_SECRET],
    maxAge: IDLE_SECONDS * 1000,
    httpOnly: true,
    sameSite: "lax",
    secure: false,
  });
  return onNode(cookieSessionNode(middleware as Parameters<typeof cookieSessionNode>[0]));
}

async function fastifySession(): Promise<Running> {
  // Loaded untyped: @fastify/session's declaration merging of request.session would clash with sessionkit's.
  const { default: fastifyCookie } = await importAs<{ default: FastifyPluginAsync }>("@fastify/cookie");
  const { default: fastifySessionPlugin } = await importAs<{ default: FastifyPluginAsync<Record<string, unknown>> }>("@fastify/session");
  const register = async (app: FastifyInstance) => {
    await app.register(fastifyCookie);
    await app.register(fastifySessionPlugin, {
      secret: BENCH_SECRET,
      saveUninitialized: false,
      rolling: false,
      cookie: { httpOnly: true, sameSite: "lax", secure: false, maxAge: IDLE_SECONDS * 1000 },
    });
  };
  return onFastify(await fastifyApp(register, (request: FastifyRequest) => sessionOf(request)));
}

function onNode(server: Server, cleanup: () => Promise<void> = async () => {}): Running {
  return {
    listen: () =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
      }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await cleanup();
    },
  };
}

function onFastify(app: FastifyInstance, cleanup: () => Promise<void> = async () => {}): Running {
  return {
    listen: async () => {
      await app.listen({ port: 0, host: "127.0.0.1" });
      return (app.server.address() as AddressInfo).port;
    },
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
      await cleanup();
    },
  };
}

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

async function main(): Promise<void> {
  const send = (message: object) => process.send?.(message);
  let running: Running;
  try {
    running = await build(contestantById(process.argv[2] ?? ""));
    send({ type: "ready", port: await running.listen() });
  } catch (error) {
    send({ type: "error", message: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  }
  process.on("message", (message: Message) => {
    // CPU time of this whole process (user + system, µs): the harness divides its growth over a run by the requests served.
    if (message.type === "stats") send({ type: "stats", ...stats, cpuMicros: cpuMicros() });
    if (message.type === "stop") {
      running.close().then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(`cleanup failed: ${String(error)}`);
          process.exit(1);
        },
      );
    }
  });
}

await main();

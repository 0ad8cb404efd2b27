/**
 * The in-process targets of the cross-adapter suite: each serves app.ts's routes through one
 * adapter on 127.0.0.1:0, trusting X-Forwarded-Proto the way its framework does (so a request
 * marked https gets a Secure cookie under cookie.secure "auto"), and pushes what reaches the
 * framework's error path into `errors`. A target is glue only: load is the adapter's, the route
 * is `answer`, the reply is written the framework's ordinary way.
 */
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import express from "express";
import type { Express, NextFunction, Request, Response as ExpressResponse } from "express";
import express4 from "express4";
import Fastify from "fastify";
import type { FastifyReply, FastifyRequest } from "fastify";
import { H3, getRequestURL } from "h3";
import { toNodeHandler } from "h3/node";
import { createApp, defineEventHandler, setResponseHeader, setResponseStatus, toNodeListener } from "h3-v1";
import type { H3Event as H3v1Event } from "h3-v1";
import { Hono } from "hono";
import Koa from "koa";
import { requireFresh as expressRequireFresh, sessionMiddleware as expressMiddleware } from "../../src/adapters/express.js";
import { requireFresh as fastifyRequireFresh, sessionPlugin } from "../../src/adapters/fastify.js";
import { sessionMiddleware as h3Middleware, useSession } from "../../src/adapters/h3.js";
import type { SessionVariables } from "../../src/adapters/hono.js";
import { requireFresh as honoRequireFresh, sessionMiddleware as honoMiddleware } from "../../src/adapters/hono.js";
import { requireFresh as koaRequireFresh, sessionMiddleware as koaMiddleware } from "../../src/adapters/koa.js";
import type { SessionManager } from "../../src/core/manager.js";
import type { Session } from "../../src/core/session.js";
import type { CompatView, Data, Reply } from "./app.js";
import { answer, answerCompat } from "./app.js";
import { isFreshInHandler } from "./cases.js";

export interface RunningApp {
  url: string;
  close(): Promise<void>;
}

export interface Target {
  /** The row's name in docs/adapters.md. */
  name: string;
  start(manager: SessionManager<Data>, errors: unknown[]): Promise<RunningApp>;
  /** Cases this target cannot run, by case id, each with the reason the matrix prints. */
  skip?: Record<string, string>;
}

async function listenNode(server: Server): Promise<RunningApp> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => closeNode(server),
  };
}

/**
 * Closes the kept-alive connections too: fetch reuses them, and the next target, listening on
 * the same port, would otherwise be answered by this one.
 */
function closeNode(server: Server): Promise<void> {
  return new Promise((done) => {
    server.close(() => done());
    server.closeAllConnections();
  });
}

function sendNode(res: ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, { "content-type": "application/json" }).end(JSON.stringify(reply.body));
}

/** The guard of POST /sensitive where the adapter has requireFresh (the other targets skip the case). */
const FRESH_WINDOW = "10m";

const nodeHttp: Target = {
  name: "node:http (start/release)",
  skip: { "require-fresh": isFreshInHandler("node:http") },
  start: (manager, errors) =>
    listenNode(
      createServer(async (req: IncomingMessage, res: ServerResponse) => {
        try {
          // node:http knows only TLS: the app decides whether it trusts its proxy's header.
          const session = await manager.start(req, res, { secure: () => req.headers["x-forwarded-proto"] === "https" });
          const reply = await answer(session, manager, req.method!, req.url!);
          if (reply.cacheControl) res.setHeader("cache-control", reply.cacheControl);
          await manager.release(session, res);
          sendNode(res, reply);
        } catch (error) {
          errors.push(error);
          if (!res.headersSent) res.writeHead(500).end();
        }
      }),
    ),
};

type ExpressFactory = () => Express;

/** What compat mode does differently, on purpose: it is express-session's API and semantics. */
const COMPAT_SKIPS = {
  api: "compat mode hands express-session's API (req.session.x, callbacks) by design; the plain mode hands the Session",
  superseded:
    "express-session's regenerate() gives a new session whatever became of the old one: a Passport login racing a sign-out ends signed in, in a new session whose cookie is sent",
  "require-fresh": "compat mode hands express-session's API, which has no sign-in time; the plain mode has requireFresh",
};

/** Express 4 or 5 with sessionkit/express, plain or in express-session compat mode. */
function expressTarget(name: string, factory: ExpressFactory, compat: boolean): Target {
  return {
    name,
    skip: compat ? COMPAT_SKIPS : undefined,
    start(manager, errors) {
      const app = factory();
      app.set("trust proxy", true);
      app.use(expressMiddleware(manager, compat ? { compat: "express-session" } : {}) as never);
      app.post("/sensitive", expressRequireFresh(FRESH_WINDOW));
      app.use((req: Request, res: ExpressResponse, next: NextFunction) => {
        const replying = compat
          ? answerCompat(req as unknown as { session: CompatView }, manager, req.method, req.url)
          : answer(req.session as unknown as Session<Data>, manager, req.method, req.url);
        replying.then((reply) => {
          if (reply.cacheControl) res.set("cache-control", reply.cacheControl);
          res.status(reply.status).json(reply.body);
        }, next);
      });
      app.use((error: unknown, _req: Request, res: ExpressResponse, _next: NextFunction) => {
        errors.push(error);
        res.status(500).end();
      });
      return listenNode(createServer(app));
    },
  };
}

const fastify: Target = {
  name: "Fastify 5",
  async start(manager, errors) {
    const app = Fastify({ trustProxy: true });
    app.setErrorHandler((error, _request, reply) => {
      errors.push(error);
      return reply.code(500).send();
    });
    await app.register(sessionPlugin, { manager });
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      const answered = await answer(request.session as unknown as Session<Data>, manager, request.method, request.url);
      if (answered.cacheControl) reply.header("cache-control", answered.cacheControl);
      return reply.code(answered.status).send(answered.body);
    };
    app.post("/sensitive", { preHandler: fastifyRequireFresh(FRESH_WINDOW) }, handler);
    app.route({ method: ["GET", "POST"], url: "/*", handler });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = app.server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
  },
};

const koa: Target = {
  name: "Koa 3",
  start(manager, errors) {
    const app = new Koa({ proxy: true });
    app.silent = true;
    app.on("error", (error: unknown) => errors.push(error));
    app.use(koaMiddleware(manager));
    const fresh = koaRequireFresh(FRESH_WINDOW);
    app.use((ctx, next) => (ctx.path === "/sensitive" ? fresh(ctx, next) : next()));
    app.use(async (ctx) => {
      const reply = await answer(ctx.session as unknown as Session<Data>, manager, ctx.method, ctx.url);
      if (reply.cacheControl) ctx.set("cache-control", reply.cacheControl);
      ctx.status = reply.status;
      ctx.body = reply.body;
    });
    return listenNode(createServer(app.callback()));
  },
};

/** Fetch adapters take https from Request.url, which these Node servers build from the socket. */
const FETCH_URL_HTTP =
  "https is the Request URL's scheme (the framework's own rule), which this Node server builds from the socket, not from X-Forwarded-Proto: behind a TLS proxy, set cookie.secure: true";

const hono: Target = {
  name: "Hono 4 (@hono/node-server)",
  skip: { "secure-auto": FETCH_URL_HTTP },
  start(manager, errors) {
    const app = new Hono<{ Variables: SessionVariables<Data> }>();
    app.onError((error, c) => {
      errors.push(error);
      return c.text("failed", 500);
    });
    app.use(honoMiddleware(manager));
    app.post("/sensitive", honoRequireFresh(FRESH_WINDOW));
    app.all("*", async (c) => {
      const reply = await answer(c.get("session"), manager, c.req.method, c.req.url);
      if (reply.cacheControl) c.header("cache-control", reply.cacheControl);
      return c.json(reply.body, reply.status as 200);
    });
    return new Promise((resolve) => {
      // By default @hono/node-server replaces the global Request and Response for good, and the
      // h3 2 target in this same process would then build its Responses with Hono's classes.
      const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1", overrideGlobalObjects: false }, (info: AddressInfo) => {
        resolve({ url: `http://127.0.0.1:${info.port}`, close: () => closeNode(server as Server) });
      });
    });
  },
};

const h3v2: Target = {
  name: "h3 2",
  skip: { "secure-auto": FETCH_URL_HTTP, "require-fresh": isFreshInHandler("h3") },
  start(manager, errors) {
    const app = new H3({
      silent: true,
      onError(error) {
        errors.push(error.cause ?? error); // h3 wraps what a handler throws in an HTTPError
      },
    });
    app.use(h3Middleware(manager));
    app.all("/**", async (event) => {
      const reply = await answer(useSession<Data>(event), manager, event.req.method, getRequestURL(event).href);
      if (reply.cacheControl) event.res.headers.set("cache-control", reply.cacheControl);
      return new Response(JSON.stringify(reply.body), { status: reply.status, headers: event.res.headers });
    });
    return listenNode(createServer(toNodeHandler(app)));
  },
};

const h3v1: Target = {
  name: "h3 1.15 (Nitro 2)",
  skip: { "require-fresh": isFreshInHandler("h3") },
  start(manager, errors) {
    const app = createApp({ onError: (error) => void errors.push(error) });
    // As Nitro registers a server/middleware file: the plain function is the event handler.
    app.use(defineEventHandler(h3Middleware(manager) as unknown as (event: H3v1Event) => Promise<void>));
    app.use(
      defineEventHandler(async (event) => {
        const session = useSession<Data>(event as unknown as Parameters<typeof useSession>[0]);
        const reply = await answer(session, manager, event.method, event.node.req.url!);
        if (reply.cacheControl) setResponseHeader(event, "cache-control", reply.cacheControl);
        setResponseStatus(event, reply.status);
        return reply.body;
      }),
    );
    return listenNode(createServer(toNodeListener(app)));
  },
};

/**
 * The Nest app needs legacy decorators, which only its folder's tsconfig turns on, so this
 * program does not import it by a literal path (tsc would then check it without them).
 */
const NEST_APP = "../apps/nest/guarantees-app.js";

interface NestApp {
  createGuaranteesApp(platform: "express" | "fastify", manager: SessionManager<Data>): Promise<{ listen(port: number, host: string): Promise<unknown>; getUrl(): Promise<string>; close(): Promise<void> }>;
}

/** NestJS: no adapter of its own, `@Session()` reads what sessionkit/express or sessionkit/fastify set. */
function nestTarget(platform: "express" | "fastify"): Target {
  return {
    name: `NestJS 12 on ${platform === "express" ? "Express" : "Fastify"}`,
    async start(manager) {
      const { createGuaranteesApp } = (await import(NEST_APP)) as NestApp;
      const app = await createGuaranteesApp(platform, manager);
      await app.listen(0, "127.0.0.1");
      const url = (await app.getUrl()).replace("[::1]", "127.0.0.1");
      return { url, close: () => app.close() };
    },
  };
}

export const targets: Target[] = [
  nodeHttp,
  expressTarget("Express 5", () => express(), false),
  expressTarget("Express 4", () => express4() as unknown as Express, false),
  expressTarget("Express 5, express-session compat", () => express(), true),
  fastify,
  koa,
  hono,
  h3v2,
  h3v1,
  nestTarget("express"),
  nestTarget("fastify"),
];

/**
 * The cross-adapter suite's app (test/adapters/app.ts) as a NestJS controller, on either
 * platform: `@Session()` is the Session sessionkit/express or sessionkit/fastify put on the
 * request. Imports sessionkit from src so the suite runs without a build. Compiled with this
 * folder's tsconfig (legacy decorators).
 */
import "reflect-metadata";
import { All, Controller, Module, Req, Res, Session } from "@nestjs/common";
import type { INestApplication } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { ExpressAdapter } from "@nestjs/platform-express";
import type { NestExpressApplication } from "@nestjs/platform-express";
import { FastifyAdapter } from "@nestjs/platform-fastify";
import type { NestFastifyApplication } from "@nestjs/platform-fastify";
import { requireFresh as expressRequireFresh, sessionMiddleware } from "../../../src/adapters/express.js";
import { requireFresh as fastifyRequireFresh, sessionPlugin } from "../../../src/adapters/fastify.js";
import type { SessionManager } from "../../../src/core/manager.js";
import type { Session as UserSession } from "../../../src/core/session.js";
import type { Data } from "../../adapters/app.js";
import { answer } from "../../adapters/app.js";

/** What Express's res and Fastify's reply both offer. */
interface Reply {
  status(code: number): unknown;
  header(name: string, value: string): unknown;
}

function moduleFor(manager: SessionManager<Data>) {
  @Controller()
  class GuaranteesController {
    // Each path named: a catch-all is written differently for Express's router and Fastify's.
    @All(["read", "count", "sign-in", "sign-out", "sessions", "revoke-user", "public", "api", "reauthenticate", "sensitive"])
    async route(@Session() session: UserSession<Data>, @Req() request: { method: string; url: string }, @Res({ passthrough: true }) reply: Reply): Promise<unknown> {
      const answered = await answer(session, manager, request.method, request.url);
      if (answered.cacheControl) reply.header("cache-control", answered.cacheControl);
      reply.status(answered.status);
      return answered.body;
    }
  }

  @Module({ controllers: [GuaranteesController] })
  class GuaranteesModule {}
  return GuaranteesModule;
}

/** The app on `platform` with sessionkit installed; not yet listening. */
export async function createGuaranteesApp(platform: "express" | "fastify", manager: SessionManager<Data>): Promise<INestApplication> {
  if (platform === "express") {
    const app = await NestFactory.create<NestExpressApplication>(moduleFor(manager), new ExpressAdapter(), { logger: false });
    app.set("trust proxy", true);
    app.use(sessionMiddleware(manager));
    app.use("/sensitive", expressRequireFresh("10m")); // Express middleware, as the platform takes it
    return app;
  }
  const app = await NestFactory.create<NestFastifyApplication>(moduleFor(manager), new FastifyAdapter({ trustProxy: true }), { logger: false });
  await app.register(sessionPlugin, { manager });
  // A Fastify preHandler hook for the one route (Nest's controllers have no per-route Fastify options).
  const fresh = fastifyRequireFresh("10m");
  app.getHttpAdapter().getInstance().addHook("preHandler", async function (request, reply) {
    if (request.url === "/sensitive") return fresh.call(this, request, reply);
  });
  return app;
}

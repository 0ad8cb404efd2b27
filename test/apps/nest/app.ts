/**
 * A NestJS app on sessionkit, on either platform: Nest's `@Session()` parameter decorator reads
 * `request.session`, which sessionkit/express (Express platform) and sessionkit/fastify
 * (Fastify platform) put there. No NestJS-specific adapter is needed.
 */
import "reflect-metadata";
import { Controller, Get, Module, Post, Query, Req, Session } from "@nestjs/common";
import type { INestApplication } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { ExpressAdapter } from "@nestjs/platform-express";
import type { NestExpressApplication } from "@nestjs/platform-express";
import { FastifyAdapter } from "@nestjs/platform-fastify";
import type { NestFastifyApplication } from "@nestjs/platform-fastify";
import type { FastifyRequest } from "fastify";
import type { Session as UserSession, SessionManager } from "sessionkit";
import { sessionMiddleware } from "sessionkit/express";
import { sessionPlugin } from "sessionkit/fastify";

interface AppSession {
  user?: string;
  views?: number;
}

@Controller()
class AccountController {
  @Post("count")
  count(@Session() session: UserSession<AppSession>): { views: number } {
    const views = (session.get("views") ?? 0) + 1;
    session.set("views", views);
    return { views };
  }

  @Post("login")
  async login(@Session() session: UserSession<AppSession>, @Query("user") user: string): Promise<{ user: string }> {
    await session.regenerate(); // a new id on sign-in: no session fixation
    session.set("user", user);
    return { user };
  }

  @Post("logout")
  async logout(@Session() session: UserSession<AppSession>): Promise<{ user: null }> {
    await session.destroy();
    return { user: null };
  }

  /** The same session through the request object, as Fastify-platform code often reads it. */
  @Get("me")
  me(@Req() request: { session: UserSession<AppSession> } | FastifyRequest): { user: string | null; views: number } {
    const session = request.session as UserSession<AppSession>;
    return { user: session.get("user") ?? null, views: session.get("views") ?? 0 };
  }
}

@Module({ controllers: [AccountController] })
class AppModule {}

export type Platform = "express" | "fastify";

/** Creates the app on `platform` with sessionkit installed; not yet listening. */
export async function createNestApp(platform: Platform, sessions: SessionManager): Promise<INestApplication> {
  if (platform === "express") {
    const app = await NestFactory.create<NestExpressApplication>(AppModule, new ExpressAdapter(), { logger: false });
    app.use(sessionMiddleware(sessions));
    return app;
  }
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), { logger: false });
  await app.register(sessionPlugin, { manager: sessions });
  return app;
}

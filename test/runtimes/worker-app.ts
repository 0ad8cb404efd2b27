// src/worker.ts: sessions in Durable Objects, with devices listed and "sign out everywhere".
import { Hono } from "hono";
import type { MiddlewareHandler } from "hono";
import { SessionManager } from "sessionkit";
import { DurableObjectStore, SessionObject } from "sessionkit/cloudflare";
import type { DurableObjectNamespaceLike } from "sessionkit/cloudflare";
import { sessionMiddleware } from "sessionkit/hono";

export { SessionObject }; // the class wrangler.toml binds as SESSIONS

type Env = { SESSIONS: DurableObjectNamespaceLike };
const app = new Hono<{ Bindings: Env }>();

// Bindings arrive with the first request: one manager per isolate, made then.
let sessions: SessionManager<{ count: number }> | undefined;
let middleware: MiddlewareHandler | undefined;
app.use((c, next) => {
  sessions ??= new SessionManager<{ count: number }>({ store: new DurableObjectStore({ namespace: c.env.SESSIONS }) });
  middleware ??= sessionMiddleware(sessions);
  return middleware(c, next);
});

app.get("/count", (c) => {
  const session = c.get("session");
  const count = ((session.get("count") as number | undefined) ?? 0) + 1;
  session.set("count", count);
  return c.text(String(count));
});
app.post("/sign-in", async (c) => {
  await c.get("session").signIn((await c.req.formData()).get("user") as string);
  return c.text("signed in");
});
app.get("/me", (c) => c.text(c.get("session").userId ?? "nobody"));
app.get("/devices", async (c) => {
  const userId = c.get("session").userId;
  if (!userId) return c.text("sign in first", 401);
  return c.json((await sessions!.listSessions(userId)).map(({ handle, userAgent }) => ({ handle, userAgent })));
});
app.post("/sign-out-everywhere", async (c) => {
  const userId = c.get("session").userId;
  if (!userId) return c.text("sign in first", 401);
  return c.text(`ended ${await sessions!.revokeUser(userId)}`);
});
app.post("/sign-out", async (c) => {
  await c.get("session").destroy();
  return c.text("signed out");
});

export default app;

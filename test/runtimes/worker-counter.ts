// A Worker: Hono with sessionkit/hono and cookie sessions, as docs/adapters.md shows it.
import { Hono } from "hono";
import { SessionManager } from "sessionkit";
import { CookieStore } from "sessionkit/cookie";
import { sessionMiddleware } from "sessionkit/hono";

const sessions = new SessionManager<{ count: number }>({
  store: new CookieStore({ secrets: ["worker test secret: 3f9c0e7a5b1d4862 a7e3c9"] }),
});
const app = new Hono();
app.use(sessionMiddleware(sessions));
app.get("/", (c) => {
  const session = c.get("session");
  const count = ((session.get("count") as number | undefined) ?? 0) + 1;
  session.set("count", count);
  return c.text(String(count));
});
export default app;

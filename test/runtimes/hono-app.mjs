/* global Bun, Deno -- run by bun and deno, never by Node */
// A Hono app with sessionkit/hono on the runtime's own server (Bun.serve, Deno.serve):
// `bun test/runtimes/hono-app.mjs memory|cookie` / `deno run -A test/runtimes/hono-app.mjs ...`.
// Prints `listening <port>` once it accepts requests.
import { Hono } from "hono";
import { MemoryStore, SessionManager } from "sessionkit";
import { CookieStore } from "sessionkit/cookie";
import { sessionMiddleware } from "sessionkit/hono";

const kind = (globalThis.Deno ? Deno.args : process.argv.slice(2))[0];
const store = kind === "cookie" ? new CookieStore({ secrets: ["runtime test secret: 5c1e9a7f3b2d4608 e4d2"] }) : new MemoryStore();
const sessions = new SessionManager({ store, cookie: { secure: "auto" } });

/** Every call fails, as a store whose server is down: the request must end in a 5xx. */
const down = { get: () => Promise.reject(new Error("connection refused")), set: () => Promise.reject(new Error("connection refused")), destroy: () => Promise.reject(new Error("connection refused")) };
const broken = new SessionManager({ store: down, gcInterval: 0 });

const app = new Hono();
app.use("/broken/*", sessionMiddleware(broken));
app.use("/app/*", sessionMiddleware(sessions));
app.get("/app/count", (c) => {
  const session = c.get("session");
  const count = (session.get("count") ?? 0) + 1;
  session.set("count", count);
  return c.text(String(count));
});
app.post("/app/sign-in", async (c) => {
  await c.get("session").signIn("ada");
  return c.text("signed in");
});
app.get("/app/me", (c) => c.text(c.get("session").userId ?? "nobody"));
app.post("/app/sign-out", async (c) => {
  await c.get("session").destroy();
  return c.text("signed out");
});
app.get("/broken/count", (c) => c.text("unreachable"));

const listening = (port) => console.log(`listening ${port}`);
if (globalThis.Bun) listening(Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch }).port);
else Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: ({ port }) => listening(port) }, app.fetch);

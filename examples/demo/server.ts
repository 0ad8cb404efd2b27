/**
 * The demo app of `npm start`: log in (regenerates the id), a per-session counter, a flash
 * message, log out (destroys). http://127.0.0.1:3000
 */
import express from "express";
import { SessionManager } from "sessionkit";
import { sessionMiddleware } from "sessionkit/express";
import { demoStore } from "./store.js";

// Declare the session's shape once; req.session is typed from it.
declare module "sessionkit" {
  interface SessionData {
    user?: string;
    visits?: number;
    flash?: string;
  }
}

const sessions = new SessionManager({ ...demoStore(), idleTimeout: "30m", absoluteTimeout: "12h" });
const app = express();
app.use(express.urlencoded({ extended: false }));
app.use(sessionMiddleware(sessions));

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

app.get("/", (req, res) => {
  const { session } = req;
  const visits = (session.get("visits") ?? 0) + 1;
  session.set("visits", visits);
  const flash = session.pop("flash");
  const user = session.get("user");
  res.type("html").send(`<!doctype html><title>sessionkit demo</title>
${flash ? `<p><mark>${escape(flash)}</mark></p>` : ""}
<p>${user ? `Logged in as <b>${escape(user)}</b>.` : "Not logged in."} Visits this session: ${visits}.</p>
${user
    ? `<form method="post" action="/logout"><button>Log out</button></form>`
    : `<form method="post" action="/login"><input name="user" placeholder="name" required> <button>Log in</button></form>`}`);
});

app.post("/login", async (req, res) => {
  const user = String((req.body as { user?: unknown }).user ?? "").slice(0, 64);
  if (!user) return res.redirect("/");
  await req.session.regenerate(); // a new id at every privilege change (session fixation)
  req.session.set("user", user);
  req.session.set("flash", `Welcome, ${user}!`);
  res.redirect("/");
});

app.post("/logout", async (req, res) => {
  await req.session.destroy();
  req.session.set("flash", "You are logged out."); // starts a fresh, anonymous session
  res.redirect("/");
});

const port = Number(process.env.PORT ?? 3000);
const server = app.listen(port, "127.0.0.1", () => console.log(`sessionkit demo on http://127.0.0.1:${port}`));
const stop = () => server.close(() => sessions.close().then(() => process.exit(0)));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

/**
 * The demo app of `npm start`: sign in (a new session id, bound to the user), a per-session
 * counter, a flash message, sign out, and "Your sessions" (every device of the user, sign out one
 * or all the others). http://127.0.0.1:3000
 */
import express from "express";
import type { Request, Response } from "express";
import { SessionManager, SessionUnsupportedError } from "sessionkit";
import { sessionMiddleware } from "sessionkit/express";
import { demoStore } from "./store.js";
import { homeBody, page, sessionsBody, unsupportedBody } from "./views.js";

// Declare the session's shape once; req.session is typed from it.
declare module "sessionkit" {
  interface SessionData {
    visits?: number;
    flash?: string;
  }
}

// dbsc: a browser that speaks Device Bound Session Credentials (Chromium, over HTTPS) binds each
// sign-in to a key it keeps on the device; the sessions page then says "bound to this device".
const sessions = new SessionManager({ ...demoStore(), idleTimeout: "30m", absoluteTimeout: "12h", dbsc: {} });
const app = express();
app.use(express.urlencoded({ extended: false }));
app.use(sessionMiddleware(sessions));

app.get("/", (req, res) => {
  const visits = (req.session.get("visits") ?? 0) + 1;
  req.session.set("visits", visits);
  res.type("html").send(page("sessionkit demo", req.session.pop("flash"), homeBody(req.session.userId, visits)));
});

app.post("/signin", async (req, res) => {
  const user = String((req.body as { user?: unknown }).user ?? "").trim().slice(0, 64);
  if (!user) return res.redirect("/");
  await req.session.signIn(user); // a new id at every privilege change (session fixation)
  req.session.set("flash", `Welcome, ${user}!`);
  res.redirect("/");
});

app.post("/signout", async (req, res) => {
  await req.session.destroy(); // the response expires the cookie in the browser
  res.redirect("/signed-out");
});

// Touches no session, so the browser is left with no session cookie at all.
app.get("/signed-out", (_req, res) => {
  res.type("html").send(page("Signed out", undefined, `<p>You are signed out.</p><nav><a href="/">Home</a></nav>`));
});

app.get("/sessions", async (req, res) => {
  const user = signedIn(req, res);
  if (user === undefined) return;
  try {
    const list = await sessions.listSessions(user);
    res.type("html").send(page("Your sessions", req.session.pop("flash"), sessionsBody(list, req.session.handle, Date.now())));
  } catch (error) {
    if (!(error instanceof SessionUnsupportedError)) throw error;
    res.type("html").send(page("Your sessions", undefined, unsupportedBody(error.message)));
  }
});

app.post("/sessions/revoke", async (req, res) => {
  const user = signedIn(req, res);
  if (user === undefined) return;
  const handle = String((req.body as { handle?: unknown }).handle ?? "");
  const ended = await sessions.revokeSession(user, handle);
  req.session.set("flash", ended ? "That device is signed out." : "That session had already ended.");
  res.redirect("/sessions");
});

app.post("/sessions/revoke-others", async (req, res) => {
  const user = signedIn(req, res);
  if (user === undefined) return;
  const ended = await sessions.revokeUser(user, { except: req.session });
  req.session.set("flash", `Signed out ${ended} other ${ended === 1 ? "session" : "sessions"}.`);
  res.redirect("/sessions");
});

/** The signed-in user, or undefined after sending the visitor home. */
function signedIn(req: Request, res: Response): string | undefined {
  if (req.session.userId !== undefined) return req.session.userId;
  req.session.set("flash", "Sign in to see your sessions.");
  res.redirect("/");
  return undefined;
}

const port = Number(process.env.PORT ?? 3000);
// Express 5 calls this with the listen error too (and then the server is not listening).
const server = app.listen(port, "127.0.0.1", (error?: NodeJS.ErrnoException) => {
  if (!error) return console.log(`sessionkit demo on http://127.0.0.1:${port}`);
  // A second `npm start` (or another app on the port): say so in one line, not a stack trace.
  const reason = error.code === "EADDRINUSE" ? `port ${port} is already in use (is the demo running in another terminal?); try PORT=${port + 1} npm start` : error.message;
  console.error(`sessionkit demo: ${reason}`);
  process.exit(1);
});
const stop = () => server.close(() => sessions.close().then(() => process.exit(0)));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

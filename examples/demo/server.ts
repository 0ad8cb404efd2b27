/**
 * The demo app of `npm start`: sign in (a new session id, bound to the user), a per-session
 * counter, a flash message, sign out, "remember me", and "Your sessions" (every device of the
 * user, sign out one, or all the others after confirming who you are). http://127.0.0.1:3000
 */
import express from "express";
import type { Request, Response } from "express";
import { SessionManager, SessionUnsupportedError } from "sessionkit";
import { requireFresh, sessionMiddleware } from "sessionkit/express";
import { demoStore } from "./store.js";
import { confirmBody, homeBody, page, sessionsBody, unsupportedBody } from "./views.js";

// Declare the session's shape once; req.session is typed from it.
declare module "sessionkit" {
  interface SessionData {
    visits?: number;
    flash?: string;
  }
}

// "Remember me" sessions may live 30 days; the others end with the browser or after 12 hours.
// dbsc: a browser that speaks Device Bound Session Credentials (Chromium, over HTTPS) binds each
// sign-in to a key it keeps on the device; the sessions page then says "bound to this device".
// renewInterval: every session gets a new id each 15 minutes; tabs still using the previous one
// keep working for renewGrace (30 s by default).
const store = demoStore();
const sessions = new SessionManager({
  ...store.options,
  idleTimeout: "30m",
  absoluteTimeout: "12h",
  maxIdleTimeout: "30d",
  maxAbsoluteTimeout: "30d",
  renewInterval: "15m",
  dbsc: {},
});
const app = express();
app.use(express.urlencoded({ extended: false }));
app.use(sessionMiddleware(sessions));

app.get("/", (req, res) => {
  const visits = (req.session.get("visits") ?? 0) + 1;
  req.session.set("visits", visits);
  res.type("html").send(page("sessionkit demo", req.session.pop("flash"), homeBody(req.session.userId, visits)));
});

app.post("/signin", async (req, res) => {
  const body = req.body as { user?: unknown; remember?: unknown };
  const user = String(body.user ?? "").trim().slice(0, 64);
  if (!user) return res.redirect("/");
  // A new id at every privilege change (session fixation). The demo has no passwords: the name is the credential.
  const lifetime = body.remember === "on" ? { idleTimeout: "30d", absoluteTimeout: "30d" } : { persistent: false };
  await req.session.signIn(user, { method: "name", ...lifetime });
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

// Ending the other sessions is sensitive (OWASP ASVS V7.5.1): it needs a sign-in of the last 5 minutes.
const confirmFirst = requireFresh("5m", { onStale: (_req, res) => res.writeHead(303, { location: "/confirm" }).end() });

app.get("/confirm", (req, res) => {
  if (signedIn(req, res) === undefined) return;
  res.type("html").send(page("Confirm it's you", req.session.pop("flash"), confirmBody()));
});

app.post("/confirm", async (req, res) => {
  const user = signedIn(req, res);
  if (user === undefined) return;
  if (String((req.body as { user?: unknown }).user ?? "").trim() !== user) {
    req.session.set("flash", "That is not the name you signed in with.");
    return res.redirect("/confirm");
  }
  await req.session.reauthenticated({ method: "name" });
  req.session.set("flash", "Confirmed. You can sign out your other sessions for the next 5 minutes.");
  res.redirect("/sessions");
});

app.post("/sessions/revoke-others", confirmFirst, async (req, res) => {
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
  if (!error) return console.log(`sessionkit demo on http://127.0.0.1:${port}, sessions in ${store.description}`);
  // A second `npm start` (or another app on the port): say so in one line, not a stack trace.
  const reason = error.code === "EADDRINUSE" ? `port ${port} is already in use (is the demo running in another terminal?); try PORT=${port + 1} npm start` : error.message;
  console.error(`sessionkit demo: ${reason}`);
  process.exit(1);
});
const stop = () => server.close(() => sessions.close().then(() => process.exit(0)));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

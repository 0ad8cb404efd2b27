/**
 * A Passport 0.7 + passport-local app written as an express-session app is: the only thing that
 * changes between the express-session run and the sessionkit run is `sessionLayer`.
 */
import express from "express";
import type { RequestHandler } from "express";
import { Passport } from "passport";
import { Strategy as LocalStrategy } from "passport-local";
import type { ExpressSessionView } from "../../../src/adapters/express.js";

interface User {
  id: string;
  name: string;
}

interface AppSession {
  views?: number;
  cart?: { items: string[] };
  prefs?: { theme: string };
}

const users = new Map<string, User & { password: string }>([["alice", { id: "alice", name: "Alice", password: "wonderland" }]]);

/** express-session's req.session shape, which both session layers provide in this app. */
function sessionOf(req: express.Request): ExpressSessionView<AppSession> {
  return req.session as unknown as ExpressSessionView<AppSession>;
}

export function passportApp(sessionLayer: RequestHandler): express.Express {
  const passport = new Passport();
  passport.use(
    new LocalStrategy((username, password, done) => {
      const user = users.get(username);
      done(null, user && user.password === password ? { id: user.id, name: user.name } : false);
    }),
  );
  passport.serializeUser((user, done) => done(null, (user as User).id));
  passport.deserializeUser((id: string, done) => {
    const user = users.get(id);
    done(null, user ? { id: user.id, name: user.name } : false);
  });

  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(sessionLayer);
  app.use(passport.session());

  app.post("/login", passport.authenticate("local", { successRedirect: "/me", failureRedirect: "/login" }));
  app.post("/login-keep", passport.authenticate("local", { successRedirect: "/me", failureRedirect: "/login", keepSessionInfo: true }));
  app.post("/logout", (req, res, next) => {
    req.logout((error) => (error ? next(error) : res.redirect("/")));
  });
  app.get("/me", (req, res) => {
    if (!req.user) return void res.status(401).json({ user: null });
    res.json({ user: req.user });
  });
  app.get("/views", (req, res) => {
    const session = sessionOf(req);
    session.views = (session.views ?? 0) + 1;
    session.views++;
    res.json({ views: session.views });
  });
  app.post("/cart", (req, res) => {
    const session = sessionOf(req);
    if (!session.cart) session.cart = { items: [] };
    session.cart.items.push(String(req.query.item));
    res.json({ items: session.cart.items, theme: session.prefs?.theme });
  });
  app.post("/theme", (req, res) => {
    const session = sessionOf(req);
    if (!session.prefs) session.prefs = { theme: "light" };
    session.prefs.theme = String(req.query.theme);
    res.json(session.prefs);
  });
  app.get("/data", (req, res) => {
    const { cart, prefs, views } = sessionOf(req);
    res.json({ cart, prefs, views });
  });
  app.post("/destroy", (req, res, next) => {
    sessionOf(req).destroy((error) => (error ? next(error) : res.json({ session: req.session ?? null })));
  });
  return app;
}

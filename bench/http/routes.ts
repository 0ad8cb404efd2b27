/**
 * The three routes every contestant serves, written once over a minimal view of "a session",
 * so all contestants run the same application logic and differ only in their session library.
 *   GET /login  seeds a session { user, count: 0 } (used before the run, never measured)
 *   GET /read   200 + the counter when the request carries a live session, else 401; changes nothing
 *   GET /write  200 + counter+1 (one store write per request) when the session is live, else 401
 */
import type { ServerResponse } from "node:http";

export type Route = "/login" | "/read" | "/write";
export const ROUTES: readonly Route[] = ["/login", "/read", "/write"];

/** Counted in the server process and read back by the harness over IPC. */
export const stats = { writes: 0, logins: 0 };

export interface SessionView {
  get(key: string): unknown;
  set(key: string, value: unknown): unknown;
}

export interface Reply {
  status: number;
  body: string;
  /** The handler changed the session (libraries that save explicitly need to know). */
  changed: boolean;
}

const NO_SESSION: Reply = { status: 401, body: "no session", changed: false };

export function isRoute(url: string | undefined): url is Route {
  return url === "/read" || url === "/write" || url === "/login";
}

export function applyRoute(route: Route, session: SessionView): Reply {
  if (route === "/login") {
    stats.logins++;
    session.set("user", `user-${stats.logins}`);
    session.set("count", 0);
    return { status: 200, body: "0", changed: true };
  }
  if (session.get("user") === undefined) return NO_SESSION;
  const count = session.get("count") as number;
  if (route === "/read") return { status: 200, body: String(count), changed: false };
  session.set("count", count + 1);
  stats.writes++;
  return { status: 200, body: String(count + 1), changed: true };
}

/** For libraries that expose session data as plain properties (express-session, cookie-session, iron-session). */
export function propertyView(target: Record<string, unknown>): SessionView {
  return {
    get: (key) => target[key],
    set: (key, value) => (target[key] = value),
  };
}

/** The bare servers' stand-in: always "logged in", one shared counter, no store. */
export function bareView(): SessionView {
  let count = 0;
  return {
    get: (key) => (key === "user" ? "bare" : count),
    set: (key, value) => (count = value as number),
  };
}

export function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

export function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  send(res, 500, error instanceof Error ? error.message : String(error));
}

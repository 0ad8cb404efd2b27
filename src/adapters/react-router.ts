/**
 * React Router (framework mode, 7 and 8): `createSessionStorage(sessions)` returns React
 * Router's own `SessionStorage`, so an app keeps `getSession(request.headers.get("Cookie"))`,
 * `commitSession(session)` and `destroySession(session)` with a sessionkit manager and store
 * underneath. The session is React Router's Session and sessionkit's (`signIn`, `userId`,
 * `handle`, …) in one. Cookie attributes, ids, expiry and the store write are the manager's.
 */
import type { FlashSessionData, MiddlewareFunction, Session as ReactRouterSession, SessionStorage as ReactRouterSessionStorage } from "react-router";
import { hashToken } from "../core/ids.js";
import { LOAD_COOKIE, type SessionManager } from "../core/manager.js";
import { sessionCacheControl as cacheControlFor } from "../core/node-http.js";
import type { Session, SessionData } from "../core/session.js";
import { warnOnce } from "../core/warnings.js";
import { forwardSession, INNER, type SessionMembers } from "./session-view.js";
import { checkManager } from "./shared.js";

export interface SessionStorageOptions {
  /**
   * Whether requests reach this app over HTTPS, for `cookie.secure: "auto"` when `getSession` is
   * handed only the Cookie header. Default: true when NODE_ENV is "production", as React
   * Router's own templates do. `getSession(request)` reads the request's URL instead;
   * `cookie.secure: true | false` wins over both.
   */
  secure?: boolean;
}

/**
 * React Router's Session with sessionkit's on top: React Router's `id` (a hash, never the
 * token), `data`, `get` (which reads a flash once), `set`, `has`, `flash` and `unset`, and every
 * other member of sessionkit's Session (`signIn`, `regenerate`, `destroy`, `userId`, `handle`,
 * `superseded`, `delete`, `pop`, `clear`, `keys`, `toJSON`, …).
 */
export type RouterSession<Data extends object = SessionData, FlashData = Data> = ReactRouterSession<Data, FlashData> &
  Omit<SessionMembers<Data>, "id" | "get" | "set" | "has">;

/** React Router's SessionStorage whose getSession also takes the Request and gives a RouterSession. */
export interface SessionStorage<Data extends object = SessionData, FlashData = Data> extends ReactRouterSessionStorage<Data, FlashData> {
  getSession: (cookieHeaderOrRequest?: string | null | Request, options?: object) => Promise<RouterSession<Data, FlashData>>;
}

type AnySession = Session<Record<string, unknown>>;

// React Router keeps a flash value under this key (its createSession does the same), so the
// stored data reads the same as a React Router session's `data`.
const flashKey = (name: string) => `__flash_${name}__`;

/** React Router's Session interface over a sessionkit Session; the rest of Session is forwarded (session-view.ts). */
class RouterSessionView<Data, FlashData> implements ReactRouterSession<Data, FlashData> {
  /** @internal */
  readonly [INNER]: AnySession;

  static {
    forwardSession(RouterSessionView);
  }

  constructor(inner: AnySession) {
    this[INNER] = inner;
  }

  /** "" until stored, as React Router's sessions; then a hash of the token, never the token. */
  get id(): string {
    return this[INNER].isNew ? "" : hashToken(this[INNER].id);
  }

  get data(): FlashSessionData<Data, FlashData> {
    return this[INNER].toJSON() as FlashSessionData<Data, FlashData>;
  }

  has(name: (keyof Data | keyof FlashData) & string): boolean {
    return this[INNER].has(name) || this[INNER].has(flashKey(name));
  }

  /** A flash value is removed by the read; commit the session for the removal to be stored. */
  get<Key extends (keyof Data | keyof FlashData) & string>(
    name: Key,
  ): (Key extends keyof Data ? Data[Key] : undefined) | (Key extends keyof FlashData ? FlashData[Key] : undefined) | undefined {
    type Value = (Key extends keyof Data ? Data[Key] : undefined) | (Key extends keyof FlashData ? FlashData[Key] : undefined);
    if (this[INNER].has(name)) return this[INNER].get(name) as Value;
    return this[INNER].pop(flashKey(name)) as Value | undefined;
  }

  set<Key extends keyof Data & string>(name: Key, value: Data[Key]): void {
    this[INNER].set(name, value as never);
  }

  flash<Key extends keyof FlashData & string>(name: Key, value: FlashData[Key]): void {
    this[INNER].set(flashKey(name), value as never);
  }

  unset(name: keyof Data & string): void {
    this[INNER].delete(name);
  }
}

/** Managers whose sessionCacheControl middleware has run in this process. */
const cacheControlled = new WeakSet<object>();

/**
 * React Router's SessionStorage backed by `manager`; the data type is the manager's. `getSession`
 * takes the Cookie header as React Router's does, or the Request itself (then `secure` comes from
 * its URL and `signIn` records its user agent). `commitSession` and `destroySession` wait for the
 * store write and resolve to the Set-Cookie value to send, or "" when the browser needs no new
 * cookie. A store failure rejects, so the loader or action fails through React Router's error path.
 */
export function createSessionStorage<Data extends object = SessionData, FlashData = Data>(
  manager: SessionManager<Data>,
  options: SessionStorageOptions = {},
): SessionStorage<Data, FlashData> {
  checkManager(manager, "createSessionStorage");
  const sessions = manager as unknown as SessionManager<Record<string, unknown>>;
  const secure = options.secure ?? process.env.NODE_ENV === "production";
  const cookiePrefix = `${manager.tokenName}=`;

  async function commit(view: ReactRouterSession<Data, FlashData>, cookieOptions: object | undefined, destroy: boolean): Promise<string> {
    const session = sessionOf(view);
    rejectCookieOptions(cookieOptions);
    if (destroy) await session.destroy();
    const cookie = (await sessions.commit(session)).find((line) => line.startsWith(cookiePrefix)) ?? "";
    if (cookie && !cacheControlled.has(manager)) warnNoCacheControl();
    return cookie;
  }

  return {
    async getSession(source, parseOptions) {
      rejectCookieOptions(parseOptions);
      const session =
        typeof source === "string" || source == null
          ? await sessions[LOAD_COOKIE](source ?? undefined, { secure })
          : await sessions[LOAD_COOKIE](source.headers.get("cookie") ?? undefined, { secure: source.url.startsWith("https:"), device: source });
      return new RouterSessionView<Data, FlashData>(session) as unknown as RouterSession<Data, FlashData>;
    },
    commitSession: (view, cookieOptions) => commit(view, cookieOptions, false),
    destroySession: (view, cookieOptions) => commit(view, cookieOptions, true),
  };
}

/** The same as `session.regenerate()`: a new id, same data, the old id stops loading at once. */
export function regenerateSession(session: object): Promise<void> {
  return sessionOf(session).regenerate();
}

function sessionOf(view: object): AnySession {
  if (view instanceof RouterSessionView) return view[INNER] as AnySession;
  throw new TypeError("commitSession/destroySession need a session from this storage's getSession()");
}

/** Per-call cookie options would bypass the manager's cookie rules: they are refused, not ignored. */
function rejectCookieOptions(options: object | undefined): void {
  if (options && Object.keys(options).length > 0) {
    throw new TypeError(
      "sessionkit/react-router takes no per-call cookie options: set them once in new SessionManager({ cookie, idleTimeout, absoluteTimeout })",
    );
  }
}

/**
 * A cookie went out before any sessionCacheControl middleware ran: it is missing from root.tsx,
 * or React Router 7 ignores route middleware (it runs them only with `future.v8_middleware`).
 */
function warnNoCacheControl(): void {
  warnOnce(
    "SESSIONKIT_REACT_ROUTER_NO_CACHE_CONTROL",
    "sessionkit/react-router: commitSession returned a session cookie, but the sessionCacheControl middleware has not run, so the response " +
      "carries no Cache-Control and a shared cache could store one user's cookie and hand it to others. Export `middleware = [sessionCacheControl(sessions)]` " +
      "from app/root.tsx; on React Router 7 route middleware runs only with `future: { v8_middleware: true }` in react-router.config.ts.",
  );
}

/**
 * Root-route middleware: a response that sets or clears the session cookie must not be stored
 * by a shared cache, so it gets the Cache-Control every adapter gives it (see the core rule in
 * node-http.ts). It also drops the empty `Set-Cookie` a `commitSession` of "" leaves in
 * `redirect(url, { headers: { "Set-Cookie": … } })`.
 */
export function sessionCacheControl<T extends object>(manager: SessionManager<T>): MiddlewareFunction<Response> {
  const cookiePrefix = `${manager.tokenName}=`;
  return async (_args, next) => {
    cacheControlled.add(manager);
    const response = await next();
    const cookies = response.headers.getSetCookie();
    // Mutable: React Router made this response, and a fetch() one could not carry our cookie.
    if (cookies.includes("")) {
      response.headers.delete("set-cookie");
      for (const cookie of cookies) if (cookie) response.headers.append("set-cookie", cookie);
    }
    if (!cookies.some((cookie) => cookie.startsWith(cookiePrefix))) return response;
    const cacheControl = cacheControlFor(response.headers.get("cache-control"));
    if (cacheControl) response.headers.set("cache-control", cacheControl);
    return response;
  };
}

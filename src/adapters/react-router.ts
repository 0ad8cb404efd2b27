/**
 * React Router (framework mode, 7 and 8): `createSessionStorage(sessions)` returns React
 * Router's own `SessionStorage`, so an app keeps `getSession(request.headers.get("Cookie"))`,
 * `commitSession(session)` and `destroySession(session)` with a sessionkit manager and store
 * underneath. Cookie attributes, ids, expiry and the store write are the manager's.
 */
import type { FlashSessionData, MiddlewareFunction, Session as RouterSession, SessionStorage } from "react-router";
import { readCookie } from "../core/cookies.js";
import { hashToken } from "../core/ids.js";
import type { SessionManager } from "../core/manager.js";
import type { Session, SessionData } from "../core/session.js";
import { checkManager } from "./shared.js";

export interface SessionStorageOptions {
  /**
   * Whether requests reach this app over HTTPS, for `cookie.secure: "auto"` (React Router hands
   * getSession only the Cookie header, not the URL). Default: true when NODE_ENV is
   * "production", as React Router's own templates do. `cookie.secure: true | false` wins.
   */
  secure?: boolean;
}

type AnySession = Session<Record<string, unknown>>;

// React Router keeps a flash value under this key (its createSession does the same), so the
// stored data reads the same as a React Router session's `data`.
const flashKey = (name: string) => `__flash_${name}__`;

/** React Router's Session interface over a sessionkit Session. */
class RouterSessionView<Data, FlashData> implements RouterSession<Data, FlashData> {
  /** @internal */
  readonly inner: AnySession;

  constructor(inner: AnySession) {
    this.inner = inner;
  }

  /** "" until stored, as React Router's sessions; then a hash of the token, never the token. */
  get id(): string {
    return this.inner.isNew ? "" : hashToken(this.inner.id);
  }

  get data(): FlashSessionData<Data, FlashData> {
    return this.inner.toJSON() as FlashSessionData<Data, FlashData>;
  }

  has(name: (keyof Data | keyof FlashData) & string): boolean {
    return this.inner.has(name) || this.inner.has(flashKey(name));
  }

  /** A flash value is removed by the read; commit the session for the removal to be stored. */
  get<Key extends (keyof Data | keyof FlashData) & string>(
    name: Key,
  ): (Key extends keyof Data ? Data[Key] : undefined) | (Key extends keyof FlashData ? FlashData[Key] : undefined) | undefined {
    type Value = (Key extends keyof Data ? Data[Key] : undefined) | (Key extends keyof FlashData ? FlashData[Key] : undefined);
    if (this.inner.has(name)) return this.inner.get(name) as Value;
    return this.inner.pop(flashKey(name)) as Value | undefined;
  }

  set<Key extends keyof Data & string>(name: Key, value: Data[Key]): void {
    this.inner.set(name, value as never);
  }

  flash<Key extends keyof FlashData & string>(name: Key, value: FlashData[Key]): void {
    this.inner.set(flashKey(name), value as never);
  }

  unset(name: keyof Data & string): void {
    this.inner.delete(name);
  }
}

/**
 * React Router's SessionStorage backed by `manager`. `commitSession` and `destroySession` wait
 * for the store write and resolve to the Set-Cookie value to send, or "" when the browser needs
 * no new cookie (React Router's server then sends no Set-Cookie at all). A store failure
 * rejects, so the loader or action fails through React Router's error path.
 */
export function createSessionStorage<Data extends object = SessionData, FlashData = Data>(
  manager: SessionManager<Data>,
  options: SessionStorageOptions = {},
): SessionStorage<Data, FlashData> {
  checkManager(manager, "createSessionStorage");
  const sessions = manager as unknown as SessionManager<Record<string, unknown>>;
  const secure = options.secure ?? process.env.NODE_ENV === "production";
  const cookiePrefix = `${manager.tokenName}=`;

  async function commit(view: RouterSession<Data, FlashData>, cookieOptions: object | undefined, destroy: boolean): Promise<string> {
    const session = sessionOf(view);
    rejectCookieOptions(cookieOptions);
    if (destroy) await session.destroy();
    const cookies = await sessions.commit(session);
    return cookies.find((cookie) => cookie.startsWith(cookiePrefix)) ?? "";
  }

  return {
    async getSession(cookieHeader, parseOptions) {
      rejectCookieOptions(parseOptions);
      const header = cookieHeader ?? undefined;
      const session = await sessions.load(readCookie(header, manager.tokenName), { secure, cookieHeader: header });
      return new RouterSessionView<Data, FlashData>(session);
    },
    commitSession: (view, cookieOptions) => commit(view, cookieOptions, false),
    destroySession: (view, cookieOptions) => commit(view, cookieOptions, true),
  };
}

/**
 * A new id for the session, same data; the old id stops loading at once. Call it on sign-in and
 * on privilege change (session fixation, OWASP), then commitSession as usual.
 */
export function regenerateSession<Data, FlashData>(session: RouterSession<Data, FlashData>): Promise<void> {
  return sessionOf(session).regenerate();
}

function sessionOf(view: object): AnySession {
  if (view instanceof RouterSessionView) return view.inner as AnySession;
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
 * Root-route middleware: a response that sets or clears the session cookie must not be stored
 * by a shared cache (RFC 9111 section 5.2.2.5), so it gets `Cache-Control: private, no-store`
 * unless the app's own value already says private or no-store.
 */
export function sessionCacheControl<T extends object>(manager: SessionManager<T>): MiddlewareFunction<Response> {
  const cookiePrefix = `${manager.tokenName}=`;
  return async (_args, next) => {
    const response = await next();
    if (!response.headers.getSetCookie().some((cookie) => cookie.startsWith(cookiePrefix))) return response;
    if (/\b(no-store|private)\b/i.test(response.headers.get("cache-control") ?? "")) return response;
    // Mutable: React Router made this response, and a fetch() one could not carry our cookie.
    response.headers.set("cache-control", "private, no-store");
    return response;
  };
}

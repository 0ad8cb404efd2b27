/**
 * Next.js App Router (15, 16): `const session = await getSession(sessions)` in a Route Handler,
 * Server Action or Server Component; `await session.save()` commits; `withSession(handler)`
 * makes a Route Handler's response that carries the cookie unstorable by shared caches. Cookies
 * go through `cookies()` from next/headers, the only place App Router code may set them. In a
 * Server Component the session is read-only, as Next.js makes cookies there.
 *
 * One documented way only: there is no auto-committing wrapper to mix with save(), and a change
 * after save() throws instead of being lost.
 */
import { inspect } from "node:util";
import { parseSetCookie } from "cookie";
import { after, connection, type NextRequest } from "next/server.js";
import { cookies, headers } from "next/headers.js";
import { readCookieCandidates, verifiedCandidate } from "../core/cookie-candidates.js";
import { SessionError } from "../core/errors.js";
import { LOAD_COOKIE, type SessionManager } from "../core/manager.js";
import { sessionCacheControl as cacheControlFor } from "../core/node-http.js";
import type { Session, SessionData } from "../core/session.js";
import { checkManager, toError, withMutableHeaders } from "./shared.js";
import { forwardSession, INNER, type SessionMembers } from "./session-view.js";

type CookieStore = Awaited<ReturnType<typeof cookies>>;

/** Thrown by a change in a Server Component (read-only cookies) or after save(). */
export class SessionReadOnlyError extends SessionError {
  constructor(operation: string, cause?: unknown) {
    super(
      "ERR_SESSION_READ_ONLY",
      `session.${operation}() in a Server Component: Next.js forbids setting cookies while rendering, so the ` +
        "session is read-only here. Change it in a Server Action or a Route Handler and call `await session.save()` there.",
      { cause },
    );
  }
}

/**
 * One request's session: sessionkit's whole Session (reads, changes, `signIn`, `userId`,
 * `handle`, `superseded`, …) plus `save()`. Changes stay in memory until `save()`, which writes
 * the store and sets the cookie through `cookies()`; a change where cookies cannot be set, or
 * after `save()`, throws instead of being lost.
 */
export type NextSession<T extends object = SessionData> = SessionMembers<T> & {
  /**
   * Writes the store, then sets the cookie through `cookies()`: call it in the Server Action or
   * Route Handler before returning (or before `redirect()`). Rejects with SessionStoreError if
   * the store fails, so the request fails instead of pretending.
   */
  save(): Promise<void>;
};

/**
 * Session methods that only read: allowed in Server Components and after save(). Any other
 * method counts as a change and is refused there, so a method added to Session later is safe by
 * default (getters are never refused).
 */
const READS: ReadonlySet<string | symbol> = new Set(["get", "has", "keys", "toJSON", "isFresh", "toString", inspect.custom]);

/** Response cookie jars (one per request) a save() set the session cookie in: see withSession. */
const cookieSent = new WeakSet<CookieStore>();

/** The NextSession of one request; every Session member it lacks is forwarded (session-view.ts). */
class NextSessionView<T extends object> {
  /** @internal */
  readonly [INNER]: Session<T>;
  readonly #manager: SessionManager<T>;
  readonly #cookies: CookieStore;
  #saving: Promise<void> | undefined;

  static {
    forwardSession(NextSessionView, (view, key) => {
      if (!READS.has(key)) view.#change(String(key));
    });
  }

  constructor(session: Session<T>, manager: SessionManager<T>, cookieStore: CookieStore) {
    this[INNER] = session;
    this.#manager = manager;
    this.#cookies = cookieStore;
  }

  save(): Promise<void> {
    this.#saving ??= this.#commit();
    return this.#saving;
  }

  async #commit(): Promise<void> {
    this.#checkWritable("save");
    for (const [name, value] of await this.#manager.commitHeaders(this[INNER])) {
      if (name !== "set-cookie") throw new TypeError(`sessionkit/next supports cookie sessions only, not the "${name}" header mode`);
      this.#cookies.set(toNextCookie(value));
      cookieSent.add(this.#cookies);
    }
  }

  /**
   * Run by after(). A read must still extend the idle expiry where nobody calls save()
   * (Server Components): the store is touched now; a cookie the commit asks for is left to a later
   * writable request, as the store's expiry is what the idle timeout checks. A change that was
   * never saved is reported, since it is lost.
   */
  async afterResponse(): Promise<void> {
    if (this.#saving) return;
    const session = this[INNER];
    if (session.modified || session.destroyed) {
      throw new SessionError("ERR_SESSION_NOT_SAVED", "the session was changed but save() was never called: the change is lost");
    }
    await this.#manager.commitHeaders(session);
  }

  #change(operation: string): void {
    if (this.#saving) {
      throw new SessionError("ERR_SESSION_COMMITTED", `session.${operation}() after save(): the change would not be stored`);
    }
    this.#checkWritable(operation);
  }

  #checkWritable(operation: string): void {
    // Probed each time: cookies writable in a Server Action turn read-only when it starts rendering.
    const writable = canSetCookies(this.#cookies);
    if (writable !== true) throw new SessionReadOnlyError(operation, writable);
  }
}

const PROBE = Symbol("sessionkit.probe");

/**
 * Next.js's read-only cookies (Server Components) throw on any set(); the writable ones read the
 * cookie's name first. A name getter that throws our marker tells them apart with no cookie set.
 */
function canSetCookies(cookieStore: CookieStore): true | Error {
  try {
    cookieStore.set({
      get name(): string {
        throw PROBE;
      },
      value: "",
    });
  } catch (error) {
    if (error === PROBE) return true;
    return toError(error);
  }
  return new Error("cookies().set accepted a nameless cookie"); // unreachable with Next.js 15 and 16
}

type NextCookie = Parameters<CookieStore["set"]>[0] & object;

/** The manager's Set-Cookie, attribute for attribute, in the shape cookies().set takes. */
function toNextCookie(setCookie: string): NextCookie {
  const parsed = parseSetCookie(setCookie);
  return {
    name: parsed.name,
    value: parsed.value ?? "",
    maxAge: parsed.maxAge,
    expires: parsed.expires,
    domain: parsed.domain,
    path: parsed.path,
    httpOnly: parsed.httpOnly,
    secure: parsed.secure,
    sameSite: parsed.sameSite === true ? "strict" : parsed.sameSite || undefined,
    partitioned: parsed.partitioned,
  };
}

// One load per request and manager: a layout and its page share the session. Keyed by the
// cookies() object, which Next.js makes once per request (and anew after a Server Action ran).
const loaded = new WeakMap<object, WeakMap<object, Promise<unknown>>>();

/** The session of the current request. Call it anywhere `cookies()` may be called. */
export async function getSession<T extends object = SessionData>(manager: SessionManager<T>): Promise<NextSession<T>> {
  checkManager(manager, "getSession");
  const cookieStore = await cookies();
  let perManager = loaded.get(cookieStore);
  if (!perManager) loaded.set(cookieStore, (perManager = new WeakMap()));
  let session = perManager.get(manager) as Promise<NextSession<T>> | undefined;
  if (!session) {
    session = loadSession(manager, cookieStore);
    perManager.set(manager, session);
  }
  return session;
}

async function loadSession<T extends object>(manager: SessionManager<T>, cookieStore: CookieStore): Promise<NextSession<T>> {
  // A load reads the clock. While Next.js prerenders (cacheComponents), cookies() may resolve
  // but the clock must not be read; connection() tells Next.js this is request-time work.
  await connection();
  const requestHeaders = await headers();
  // The whole Cookie header, not cookies().get(): two different session cookies load neither.
  const session = await manager[LOAD_COOKIE](requestHeaders.get("cookie") ?? undefined, {
    secure: isHttps(requestHeaders),
    device: { headers: requestHeaders },
  });
  const view = new NextSessionView(session, manager, cookieStore);
  try {
    after(() => view.afterResponse());
  } catch {
    // No after() in this scope (a "use cache" function): a later request touches instead.
  }
  return view as unknown as NextSession<T>;
}

/**
 * Wraps a Route Handler so that a response carrying the session cookie (a `save()` set it) is
 * not stored by a shared cache (RFC 9111 section 5.2.2): it gets `Cache-Control: no-store`, or
 * `private, no-store` in place of a shareable value, as in every adapter. Next.js adds nothing
 * to a Route Handler's Response itself.
 */
export function withSession<A extends unknown[]>(handler: (...args: A) => Response | Promise<Response>): (...args: A) => Promise<Response> {
  return async (...args: A): Promise<Response> => {
    const response = await handler(...args);
    if (!cookieSent.has(await cookies())) return response;
    const cacheControl = cacheControlFor(response.headers.get("cache-control"));
    if (!cacheControl) return response;
    const mutable = withMutableHeaders(response);
    mutable.headers.set("cache-control", cacheControl);
    return mutable;
  };
}

/** `next start` fills in x-forwarded-proto from the socket unless a proxy already set it. */
function isHttps(requestHeaders: Headers): boolean {
  return requestHeaders.get("x-forwarded-proto")?.split(",")[0]?.trim() === "https";
}

/**
 * For `proxy.ts` (or `middleware.ts` with `runtime: "nodejs"`): true when the request carries a
 * live session. Read-only: it never extends, writes or creates one.
 */
export async function hasSession<T extends object>(manager: SessionManager<T>, request: NextRequest): Promise<boolean> {
  // Several session cookies: true only when exactly one names a live session, as a load decides (cookie-candidates.ts).
  const candidates = readCookieCandidates(request.headers.get("cookie"), manager.tokenName);
  if (candidates === undefined) return false;
  if (typeof candidates === "string") return manager.exists(candidates);
  const live = await verifiedCandidate(candidates, async (token) => ((await manager.exists(token)) ? token : null), () => {});
  return live !== null;
}

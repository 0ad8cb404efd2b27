/**
 * Next.js App Router (15, 16): `const session = await getSession(sessions)` in a Route Handler,
 * Server Action or Server Component; `await session.save()` commits. Cookies go through
 * `cookies()` from next/headers, the only place App Router code may set them. In a Server
 * Component the session is read-only, as Next.js makes cookies there.
 *
 * One documented way only: there is no auto-committing wrapper to mix with save(), and a change
 * after save() throws instead of being lost.
 */
import { parseSetCookie } from "cookie";
import { after, type NextRequest } from "next/server.js";
import { cookies, headers } from "next/headers.js";
import { SessionError } from "../core/errors.js";
import type { SessionManager } from "../core/manager.js";
import type { Session, SessionData, SessionKey, SessionValue } from "../core/session.js";
import { checkManager, toError } from "./shared.js";

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
 * One request's session. Reads are those of sessionkit's Session; changes stay in memory until
 * `save()`, which writes the store and sets the cookie through `cookies()`.
 */
export class NextSession<T extends object = SessionData> {
  readonly #session: Session<T>;
  readonly #manager: SessionManager<T>;
  readonly #cookies: CookieStore;
  #saving: Promise<void> | undefined;

  /** @internal */
  constructor(session: Session<T>, manager: SessionManager<T>, cookieStore: CookieStore) {
    this.#session = session;
    this.#manager = manager;
    this.#cookies = cookieStore;
  }

  /** True until the session has been saved once. */
  get isNew(): boolean {
    return this.#session.isNew;
  }

  get createdAt(): Date {
    return this.#session.createdAt;
  }

  get expiresAt(): Date {
    return this.#session.expiresAt;
  }

  get<K extends SessionKey<T>>(key: K): SessionValue<T, K> | undefined {
    return this.#session.get(key);
  }

  has(key: SessionKey<T>): boolean {
    return this.#session.has(key);
  }

  keys(): Array<SessionKey<T>> {
    return this.#session.keys();
  }

  toJSON(): Partial<T> {
    return this.#session.toJSON();
  }

  set<K extends SessionKey<T>>(key: K, value: SessionValue<T, K>): this {
    this.#change("set").set(key, value);
    return this;
  }

  delete(key: SessionKey<T>): boolean {
    return this.#change("delete").delete(key);
  }

  /** Reads and removes a value (a flash message); only where cookies can be set. */
  pop<K extends SessionKey<T>>(key: K): SessionValue<T, K> | undefined {
    return this.#change("pop").pop(key);
  }

  clear(): void {
    this.#change("clear").clear();
  }

  /** New id, same data: call it on sign-in (session fixation, OWASP). */
  regenerate(): Promise<void> {
    return this.#change("regenerate").regenerate();
  }

  /** Removes the session from the store now; save() then expires the cookie. */
  destroy(): Promise<void> {
    return this.#change("destroy").destroy();
  }

  /**
   * Writes the store, then sets the cookie through `cookies()`: call it in the Server Action or
   * Route Handler before returning (or before `redirect()`). Rejects with SessionStoreError if
   * the store fails, so the request fails instead of pretending.
   */
  save(): Promise<void> {
    this.#saving ??= this.#commit();
    return this.#saving;
  }

  async #commit(): Promise<void> {
    this.#checkWritable("save");
    for (const [name, value] of await this.#manager.commitHeaders(this.#session)) {
      if (name !== "set-cookie") throw new TypeError(`sessionkit/next supports cookie sessions only, not the "${name}" header mode`);
      this.#cookies.set(toNextCookie(value));
    }
  }

  /**
   * @internal Run by after(). A read must still extend the idle expiry where nobody calls save()
   * (Server Components): the store is touched now; a cookie the commit asks for is left to a later
   * writable request, as the store's expiry is what the idle timeout checks. A change that was
   * never saved is reported, since it is lost.
   */
  async afterResponse(): Promise<void> {
    if (this.#saving) return;
    if (this.#session.modified || this.#session.destroyed) {
      throw new SessionError("ERR_SESSION_NOT_SAVED", "the session was changed but save() was never called: the change is lost");
    }
    await this.#manager.commitHeaders(this.#session);
  }

  #change(operation: string): Session<T> {
    if (this.#saving) {
      throw new SessionError("ERR_SESSION_COMMITTED", `session.${operation}() after save(): the change would not be stored`);
    }
    this.#checkWritable(operation);
    return this.#session;
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
  const requestHeaders = await headers();
  const token = cookieStore.get(manager.tokenName)?.value;
  const context = { secure: isHttps(requestHeaders), cookieHeader: requestHeaders.get("cookie") ?? undefined };
  const session = new NextSession(await manager.load(token, context), manager, cookieStore);
  try {
    after(() => session.afterResponse());
  } catch {
    // No after() in this scope (a "use cache" function): a later request touches instead.
  }
  return session;
}

/** `next start` fills in x-forwarded-proto from the socket unless a proxy already set it. */
function isHttps(requestHeaders: Headers): boolean {
  return requestHeaders.get("x-forwarded-proto")?.split(",")[0]?.trim() === "https";
}

/**
 * For `proxy.ts` (or `middleware.ts` with `runtime: "nodejs"`): true when the request carries a
 * live session. Read-only: it never extends, writes or creates one.
 */
export function hasSession<T extends object>(manager: SessionManager<T>, request: NextRequest): Promise<boolean> {
  const token = request.cookies.get(manager.tokenName)?.value;
  return token ? manager.exists(token) : Promise.resolve(false);
}

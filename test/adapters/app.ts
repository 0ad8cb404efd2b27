/**
 * The one small app every target of the cross-adapter suite serves (guarantees.test.ts). Each
 * target maps its framework's request to `answer` and the Reply back, nothing more:
 *
 *   GET  /read               { data: session.toJSON(), userId }
 *   POST /count              session.n += 1
 *   POST /sign-in?user=u     await session.signIn(u)
 *   POST /sign-out           await session.destroy()
 *   GET  /sessions           manager.listSessions(session.userId): the handles
 *   POST /revoke-user        manager.revokeUser(session.userId): "sign out everywhere"
 *   GET  /public             session.set("seen", true) with the app's Cache-Control "public, max-age=300"
 *   POST /api                every member of the Session API, through the adapter's session object
 *   POST /reauthenticate     await session.reauthenticated(): the user proved who they are again
 *   POST /sensitive          { done: true }; a target with requireFresh guards it with requireFresh("10m")
 *
 * The store is a FailingStore, so a case can hold one call (GatedStore) or make every call fail.
 */
import type { SessionManager } from "../../src/core/manager.js";
import type { Session } from "../../src/core/session.js";
import type { SessionWrite, StoreCallOptions, StoredSession } from "../../src/core/store.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { GatedStore } from "../../src/testing/gate.js";

export type Data = { n?: number; a?: number; b?: number; c?: number; kept?: boolean; seen?: boolean };

/** What a route answers: the target sends `body` as JSON with `status` and, if given, this Cache-Control. */
export interface Reply {
  status: number;
  body: unknown;
  cacheControl?: string;
}

/** A gated MemoryStore whose get, set and destroy can be switched to failing. */
export class FailingStore extends GatedStore {
  failing = false;

  constructor() {
    super(new MemoryStore());
  }

  override async get(key: string, options?: StoreCallOptions): Promise<StoredSession | null> {
    this.#check();
    return super.get(key, options);
  }

  override async set(key: string, write: SessionWrite, options?: StoreCallOptions): Promise<boolean> {
    this.#check();
    return super.set(key, write, options);
  }

  override async destroy(key: string, options?: StoreCallOptions): Promise<void> {
    this.#check();
    return super.destroy(key, options);
  }

  #check(): void {
    if (this.failing) throw new Error("store is down (test)");
  }
}

export async function answer(session: Session<Data>, manager: SessionManager<Data>, method: string, url: string): Promise<Reply> {
  const { pathname, searchParams } = new URL(url, "http://target");
  const route = `${method} ${pathname}`;
  switch (route) {
    case "GET /read":
      return ok({ data: session.toJSON(), userId: session.userId ?? null });
    case "POST /count":
      session.set("n", (session.get("n") ?? 0) + 1);
      return ok({ n: session.get("n") });
    case "POST /sign-in":
      await session.signIn(searchParams.get("user") ?? "ada");
      return ok({ userId: session.userId });
    case "POST /sign-out":
      await session.destroy();
      return ok({ signedOut: true });
    case "GET /sessions":
      return ok(session.userId ? (await manager.listSessions(session.userId)).map((info) => info.handle) : []);
    case "POST /revoke-user":
      return ok({ revoked: session.userId ? await manager.revokeUser(session.userId) : 0 });
    case "GET /public":
      session.set("seen", true);
      return { status: 200, body: { seen: true }, cacheControl: "public, max-age=300" };
    case "POST /api":
      return ok(await everyMember(session));
    case "POST /reauthenticate":
      await session.reauthenticated();
      return ok({ reauthenticated: true });
    case "POST /sensitive":
      return ok({ done: true });
    default:
      return { status: 404, body: { route } };
  }
}

const ok = (body: unknown): Reply => ({ status: 200, body });

/** Calls every member of the Session API once and reports what each gave. */
async function everyMember(session: Session<Data>): Promise<Record<string, unknown>> {
  session.set("a", 1).set("b", 2).set("c", 3);
  const seen = { has: session.has("a"), get: session.get("a"), pop: session.pop("a"), hasAfterPop: session.has("a"), delete: session.delete("b") };
  const beforeClear = { keys: session.keys(), json: session.toJSON() };
  session.clear();
  const cleared = session.keys();
  session.set("kept", true);
  await session.regenerate();
  await session.signIn("ada");
  return { ...seen, ...beforeClear, cleared, userId: session.userId, handle: session.handle, superseded: session.superseded };
}

/** The express-session view compat mode puts on `req.session`: data as properties, callback methods. */
export interface CompatView {
  [key: string]: unknown;
  id: string;
  regenerate(callback: (error?: unknown) => void): void;
  save(callback: (error?: unknown) => void): void;
  destroy(callback: (error?: unknown) => void): void;
}

const callback = (run: (done: (error?: unknown) => void) => void) =>
  new Promise<void>((resolve, reject) => run((error) => (error ? reject(error) : resolve())));

/**
 * The same routes written as express-session code (Passport's shape: the user in
 * `session.passport.user`, which compat mode signs in at save). /api has no counterpart: compat
 * mode hands express-session's API, not sessionkit's Session.
 */
export async function answerCompat(request: { session: CompatView }, manager: SessionManager<Data>, method: string, url: string): Promise<Reply> {
  const { pathname, searchParams } = new URL(url, "http://target");
  const session = request.session;
  const userId = (session.passport as { user?: string } | undefined)?.user;
  switch (`${method} ${pathname}`) {
    case "GET /read": {
      const { id: _id, cookie: _cookie, passport: _passport, ...data } = session;
      return ok({ data, userId: userId ?? null });
    }
    case "POST /count":
      session.n = ((session.n as number | undefined) ?? 0) + 1;
      return ok({ n: session.n });
    case "POST /sign-in": {
      const user = searchParams.get("user") ?? "ada";
      await callback((done) => session.regenerate(done));
      request.session.passport = { user };
      await callback((done) => request.session.save(done));
      return ok({ userId: user });
    }
    case "POST /sign-out":
      await callback((done) => session.destroy(done));
      return ok({ signedOut: true });
    case "GET /sessions":
      return ok(userId ? (await manager.listSessions(userId)).map((info) => info.handle) : []);
    case "POST /revoke-user":
      return ok({ revoked: userId ? await manager.revokeUser(userId) : 0 });
    case "GET /public":
      session.seen = true;
      return { status: 200, body: { seen: true }, cacheControl: "public, max-age=300" };
    default:
      return { status: 404, body: { route: `${method} ${pathname}` } };
  }
}

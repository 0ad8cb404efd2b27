/**
 * `sessionMiddleware(sessions, { compat: "express-session" })`: `req.session` as express-session
 * shapes it, for code written against it (Passport 0.6+, `req.session.views++`). A Proxy over
 * the sessionkit Session: data stays in the Session's map, so changed keys merge with
 * concurrent requests as with the plain API. Methods take callbacks, as express-session's do.
 */
import type { IncomingMessage } from "node:http";
import type { SessionManager } from "../core/manager.js";
import type { Session, SessionData } from "../core/session.js";

type Callback = (error?: unknown) => void;

/** What `req.session` offers in compat mode: your data as plain properties, and these methods. */
export interface ExpressSessionMethods {
  /** The session id (the token the cookie carries, before signing): keep it secret. */
  readonly id: string;
  /** A snapshot of the cookie's lifetime; express-session's setters have no effect here. */
  readonly cookie: CompatCookie;
  /** New id and empty data (express-session's semantics; Passport calls it on login and logout). */
  regenerate(callback?: Callback): this;
  /** Records in-place changes now; the store write happens before the response goes out. */
  save(callback?: Callback): this;
  /** Removes the session from the store; `req.session` is gone afterwards, as with express-session. */
  destroy(callback?: Callback): this;
  /** Reloads the data from the store, dropping this request's unsaved changes. */
  reload(callback?: Callback): this;
  /** Nothing to do: sessionkit slides the idle window on every request by itself. */
  touch(): this;
}

export interface CompatCookie {
  path: string;
  httpOnly: boolean;
  expires: Date;
  /** Milliseconds until the session expires. */
  maxAge: number;
  originalMaxAge: number;
}

/**
 * `req.session` in compat mode. Cast to it where your TypeScript code reads express-session
 * style properties: `const session = req.session as unknown as ExpressSessionView`.
 */
export type ExpressSessionView<T extends object = SessionData> = ExpressSessionMethods & Partial<T> & Record<string, unknown>;

/** The data a view reads: the live Session, or a copy once `regenerate` has detached the view. */
type DataSource = Pick<Map<string, unknown>, "get" | "set" | "has" | "delete"> & { keys(): Iterable<string> };

const STATE = Symbol("sessionkit.compat");

/** Per-request state behind one view; methods reach it through `this[STATE]`. */
interface ViewState {
  req: IncomingMessage & { session?: unknown };
  manager: SessionManager<object>;
  session: Session<object>;
  data: DataSource;
  /**
   * JSON of each object value as first read: an in-place change shows as a different encoding.
   * null for a value JSON cannot encode (a cycle, a BigInt for a custom codec): always stored.
   */
  readAs: Map<string, string | null> | undefined;
  userIdOf: CompatUserId;
}

/**
 * Which user the data says is signed in, read at each `save()`: Passport writes
 * `req.session.passport.user` and calls save() on login and logout.
 */
export type CompatUserId = (session: Readonly<Record<string, unknown>>) => string | undefined;

/** Passport's serialized user, when it is a string or a number (`serializeUser((user, done) => done(null, user.id))`). */
const passportUserId: CompatUserId = (session) => {
  const passport = session.passport;
  const user = passport !== null && typeof passport === "object" ? (passport as { user?: unknown }).user : undefined;
  if (typeof user === "string" && user !== "") return user;
  return typeof user === "number" && Number.isFinite(user) ? String(user) : undefined;
};

/**
 * The view's own names. "__proto__" is one too: listed as an own data key, a stored
 * `__proto__` would become the prototype of `Object.assign({}, req.session)` or of a for-in copy
 * (its assignment runs the Object.prototype setter), so it stays the view's and is never data.
 */
const RESERVED = new Set<string | symbol>(["id", "cookie", "regenerate", "save", "destroy", "reload", "touch", "__proto__"]);

class CompatView {
  declare [STATE]: ViewState;

  get id(): string {
    return this[STATE].session.id;
  }

  get cookie(): CompatCookie {
    const { session } = this[STATE];
    const expires = session.expiresAt;
    const maxAge = Math.max(0, expires.getTime() - Date.now());
    return { path: "/", httpOnly: true, expires, maxAge, originalMaxAge: maxAge };
  }

  regenerate(callback?: Callback): this {
    const state = this[STATE];
    detach(state);
    // Passport's logout saves (which ended the signed-in session, see bindUser) and then regenerates.
    const rotated = state.session.destroyed ? Promise.resolve() : state.session.regenerate();
    settle(
      rotated.then(() => {
        state.session.clear();
        state.req.session = createView(state.req, state.manager, state.session, state.userIdOf);
      }),
      callback,
    );
    return this;
  }

  save(callback?: Callback): this {
    const state = this[STATE];
    settle(Promise.resolve().then(() => (syncView(state), bindUser(state))), callback);
    return this;
  }

  destroy(callback?: Callback): this {
    const state = this[STATE];
    detach(state);
    state.req.session = undefined; // not delete: on Express, req.session is an accessor sessionkit put on its prototype
    settle(state.session.destroy(), callback);
    return this;
  }

  reload(callback?: Callback): this {
    const state = this[STATE];
    settle(
      state.manager.start(state.req).then((stored) => {
        if (stored.isNew || stored.id !== state.session.id) throw new Error("failed to load session");
        replaceData(state, stored);
      }),
      callback,
    );
    return this;
  }

  touch(): this {
    return this;
  }
}

/** Reads and writes of data keys go to the Session; the view's own names go to the view. */
const handler: ProxyHandler<CompatView> = {
  get(view, key, receiver) {
    if (typeof key === "symbol" || RESERVED.has(key)) return Reflect.get(view, key, receiver);
    const state = view[STATE];
    const value = state.data.get(key);
    if (value !== null && typeof value === "object" && !state.readAs?.has(key)) {
      (state.readAs ??= new Map()).set(key, encodeOrNull(value));
    }
    return value;
  },
  set(view, key, value) {
    if (typeof key === "symbol" || RESERVED.has(key)) return false; // a TypeError in strict code, as express-session's read-only id
    const state = view[STATE];
    state.data.set(key, value);
    state.readAs?.delete(key); // already recorded as changed
    return true;
  },
  deleteProperty(view, key) {
    if (typeof key === "symbol" || RESERVED.has(key)) return false;
    view[STATE].data.delete(key);
    return true;
  },
  has(view, key) {
    if (typeof key === "symbol" || RESERVED.has(key)) return Reflect.has(view, key);
    return view[STATE].data.has(key);
  },
  ownKeys(view) {
    const keys = [...view[STATE].data.keys()];
    return keys.includes("__proto__") ? keys.filter((key) => key !== "__proto__") : keys;
  },
  getOwnPropertyDescriptor(view, key) {
    if (typeof key === "symbol" || RESERVED.has(key) || !view[STATE].data.has(key)) return undefined;
    return { value: handler.get!(view, key, view), writable: true, enumerable: true, configurable: true };
  },
};

/** Puts the compat view of `session` on `req.session`; `syncView` must run before the commit. */
export function createView(req: IncomingMessage, manager: SessionManager<object>, session: Session<object>, userIdOf: CompatUserId = passportUserId): ExpressSessionView {
  const view = new CompatView();
  view[STATE] = { req, manager, session, data: session as unknown as DataSource, readAs: undefined, userIdOf };
  return new Proxy(view, handler) as unknown as ExpressSessionView;
}

/**
 * Binds the session to the user the data names (signIn: listSessions, revokeUser and the CLI
 * then reach a Passport login), or, when that user is gone from the data (Passport's logout),
 * ends the signed-in session for good and keeps the remaining data in a fresh anonymous one.
 */
async function bindUser(state: ViewState): Promise<void> {
  const { session } = state;
  if (state.data !== (session as unknown as DataSource) || session.destroyed) return;
  const data = Object.create(null) as Record<string, unknown>; // a stored "__proto__" stays a plain key
  for (const key of session.keys()) data[key] = session.get(key as never);
  const userId = state.userIdOf(data);
  if (userId === session.userId) return;
  if (userId !== undefined) return session.signIn(userId);
  await session.destroy();
  for (const [key, value] of Object.entries(data)) session.set(key as never, value as never);
}

/**
 * Stores the keys whose objects were changed in place since they were read, and only those:
 * a key this request did not change keeps whatever a concurrent request wrote to it.
 */
export function syncView(state: ViewState): void {
  const { readAs, session } = state;
  if (!readAs || state.data !== (session as unknown as DataSource)) return;
  for (const [key, encoded] of readAs) {
    const value = session.get(key as never);
    if (encoded === null || encodeOrNull(value) !== encoded) session.set(key as never, value as never);
  }
  readAs.clear();
}

/** The commit hook for express.ts: records in-place changes made through the view on `req`. */
export function syncRequestView(req: IncomingMessage & { session?: unknown }): void {
  const view = req.session as CompatView | undefined;
  if (view?.[STATE]) syncView(view[STATE]);
}

/** After regenerate or destroy the old object keeps its data as a copy, as express-session's old object does. */
function detach(state: ViewState): void {
  syncView(state);
  const copy = new Map<string, unknown>();
  for (const key of state.session.keys()) copy.set(key, state.session.get(key as never));
  state.data = copy;
}

/** Sets only the keys that differ from the stored copy, so a reload alone writes nothing. */
function replaceData(state: ViewState, stored: Session<object>): void {
  const { session } = state;
  syncView(state);
  for (const key of session.keys()) if (!stored.has(key as never)) session.delete(key as never);
  for (const key of stored.keys()) {
    const value = stored.get(key as never);
    if (encodeOrNull(value) !== encodeOrNull(session.get(key as never))) session.set(key as never, value as never);
  }
}

function encodeOrNull(value: unknown): string | null {
  try {
    return JSON.stringify(value);
  } catch {
    return null;
  }
}

/** Callbacks run outside the promise chain, so an exception in one is not swallowed. */
function settle(work: Promise<void>, callback: Callback | undefined): void {
  work.then(
    () => callback && process.nextTick(callback),
    (error: unknown) => {
      if (callback) process.nextTick(callback, error);
    },
  );
}

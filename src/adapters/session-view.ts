/**
 * A framework's own session object (Next.js's NextSession, React Router's Session) over
 * sessionkit's Session. Every Session member the view does not define itself is forwarded to the
 * Session it wraps, installed once on the view's prototype for each member of Session's: a Session
 * feature added later reaches these adapters with no forwarder written for it, and no Proxy or
 * per-request setup is involved.
 */
import { type INTERNALS, Session } from "../core/session.js";

/** Where a view keeps the Session it shows. */
export const INNER: unique symbol = Symbol("sessionkit.inner");

/** sessionkit's Session as an app sees it: every public member. */
export type SessionMembers<T extends object> = Omit<Session<T>, typeof INTERNALS>;

interface View {
  readonly [INNER]: { readonly isNew: boolean };
}

/**
 * Defines on `view.prototype` each member of Session (its prototype's, and `isNew`) that the view
 * lacks. A method first runs `guard(view, key)`, which may throw to refuse it (Next.js refuses
 * changes where cookies cannot be set); a method that returns its Session (`set`) returns the view.
 */
export function forwardSession<V extends View>(view: { prototype: V }, guard?: (view: V, key: string | symbol) => void): void {
  const prototype = view.prototype as object;
  // isNew is an own field of each Session, not a prototype member.
  for (const key of [...Reflect.ownKeys(Session.prototype), "isNew"]) {
    if (key === "constructor" || Object.hasOwn(prototype, key)) continue;
    // Looked up on the wrapped Session at each use, not taken from this module's Session class:
    // a bundler (Next.js) may give the manager's module and the adapter's different copies of it.
    const isMethod = typeof Object.getOwnPropertyDescriptor(Session.prototype, key)?.value === "function";
    Object.defineProperty(prototype, key, isMethod ? { configurable: true, writable: true, value: forwardedMethod(key, guard) } : { configurable: true, get: forwardedGetter(key) });
  }
}

function forwardedMethod<V extends View>(key: string | symbol, guard: ((view: V, key: string | symbol) => void) | undefined) {
  return function forwarded(this: V, ...args: unknown[]): unknown {
    guard?.(this, key);
    const inner = this[INNER];
    const result: unknown = Reflect.apply(Reflect.get(inner, key) as (...a: unknown[]) => unknown, inner, args);
    return result === inner ? this : result;
  };
}

function forwardedGetter<V extends View>(key: string | symbol) {
  return function forwarded(this: V): unknown {
    return Reflect.get(this[INNER], key);
  };
}

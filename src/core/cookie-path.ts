/**
 * Sessions kept whole in the cookie (a ClientSideStore such as CookieStore): no store round trip
 * to load or commit; a signed-in session is checked against the user's fence in `revocations`.
 */
import type { ManagerContext } from "./context.js";
import { signedIn } from "./identity.js";
import { readFence, spared } from "./fence.js";
import { SessionTooLargeError } from "./errors.js";
import type { PreparedCommit, SessionPath } from "./paths.js";
import { committed, restoreUser, sendOnly } from "./paths.js";
import type { SecureFlag, Session, SessionInternals } from "./session.js";
import { newState } from "./session.js";
import { cookieHeaders, expireHeaders } from "./session-headers.js";
import type { Awaitable, ClientSideStore } from "./store.js";

// Browsers drop a Set-Cookie longer than 4096 bytes without a word (RFC 6265bis section 5.6).
const MAX_COOKIE_BYTES = 4096;

export class CookiePath<T extends object> implements SessionPath<T> {
  readonly #ctx: ManagerContext;
  readonly #store: ClientSideStore;

  constructor(ctx: ManagerContext, store: ClientSideStore) {
    this.#ctx = ctx;
    this.#store = store;
  }

  find(value: string, now: number, secure: SecureFlag): Awaitable<Session<T> | null> {
    const ctx = this.#ctx;
    let opened;
    try {
      opened = this.#store.open(value, now, ctx.options.header ?? ctx.options.cookie.name);
    } catch {
      return null; // a hostile cookie is "not found", never an exception to the app
    }
    if (!opened) {
      if (ctx.options.onEvent) this.#expired(value, now);
      return null;
    }
    const bar = opened.payload.indexOf("|");
    const envelope = bar === 43 ? ctx.live(opened.payload.slice(bar + 1), opened.expiresAt, now) : null;
    if (!envelope) {
      if (bar === 43) ctx.expiredRecord(opened.payload.slice(bar + 1), opened.expiresAt, opened.payload.slice(0, bar), ctx.keyOf(opened.payload.slice(0, bar)), now);
      return null;
    }
    const token = opened.payload.slice(0, bar);
    const state = newState(now, secure, envelope.createdAt, envelope.data);
    if (envelope.user && !restoreUser(state, envelope.user, token, ctx.keyOf(token))) return null;
    state.token = token;
    state.storedExpiresAt = opened.expiresAt;
    state.sendCookie = opened.stale;
    state.clientHasCookie = true;
    const session = ctx.session<T>(state, false);
    const revocations = ctx.options.revocations;
    const user = state.user;
    if (!revocations || !user) return session;
    // One read per load of a signed-in cookie session: was it named by a revocation since its sign-in?
    return readFence(ctx, revocations, user.owner).then((fence) => (spared(fence, user.fence, user.handle!) ? session : null));
  }

  /**
   * A cookie that did not open at `now`: opened again as of the earliest time, so one that is
   * authentic but past its sealed expiry reports "expired" (a forged one still reports nothing).
   * Only with a listener.
   */
  #expired(value: string, now: number): void {
    const ctx = this.#ctx;
    let opened;
    try {
      opened = this.#store.open(value, Number.NEGATIVE_INFINITY, ctx.options.header ?? ctx.options.cookie.name);
    } catch {
      return;
    }
    const bar = opened?.payload.indexOf("|");
    if (!opened || bar !== 43) return;
    const token = opened.payload.slice(0, bar);
    ctx.expiredRecord(opened.payload.slice(bar + 1), Math.min(opened.expiresAt, now), token, ctx.keyOf(token), now);
  }

  prepare(session: Session<T>, state: SessionInternals): PreparedCommit {
    const ctx = this.#ctx;
    if (state.status === "destroyed") return sendOnly(expireHeaders(ctx, state));
    const now = ctx.now();
    state.usedAt = Math.max(state.usedAt, now);
    const expiresAt = ctx.expiresAt(state);
    const touchDue = !session.isNew && expiresAt - state.storedExpiresAt >= ctx.options.touchInterval;
    if (state.status !== "modified" && !touchDue && !state.sendCookie) return sendOnly([]);
    const name = ctx.options.header ?? ctx.options.cookie.name;
    const sealed = this.#store.seal(`${session.id}|${ctx.encode(state)}`, expiresAt, name);
    const headers = cookieHeaders(ctx, state, now, sealed);
    const size = Buffer.byteLength(headers[0]![1]);
    if (size > MAX_COOKIE_BYTES) throw new SessionTooLargeError(size, MAX_COOKIE_BYTES, "the Set-Cookie header");
    if (session.isNew) ctx.emit("created", state, state.user?.id);
    if (state.user?.fresh) void signedIn(ctx, state); // no store: only the event
    committed(session, state, expiresAt);
    return sendOnly(headers);
  }
}

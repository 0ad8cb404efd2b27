/** Sessions kept in a server-side store: one read to load, one compare-and-set write to commit. */
import type { ServerStore } from "./abilities.js";
import type { ManagerContext } from "./context.js";
import { completeSignIn, indexOwner, renew, supersede } from "./identity.js";
import { isWellFormedToken, verifySignedToken } from "./ids.js";
import type { SessionHeader } from "./node-http.js";
import type { PreparedCommit, SessionPath } from "./paths.js";
import { committed, restoreUser, sendOnly } from "./paths.js";
import { readForward, touchRecord, writeRecord } from "./records.js";
import type { SecureFlag, Session, SessionInternals } from "./session.js";
import { INTERNALS, newState } from "./session.js";
import { cookieHeaders, expireHeaders } from "./session-headers.js";
import type { Awaitable, StoredSession } from "./store.js";
import type { Envelope } from "./envelope.js";
import { isForward } from "./envelope.js";

export class ServerPath<T extends object> implements SessionPath<T> {
  readonly #ctx: ManagerContext;
  readonly #server: ServerStore;

  constructor(ctx: ManagerContext, server: ServerStore) {
    this.#ctx = ctx;
    this.#server = server;
  }

  /** A malformed or badly signed token never reaches the store. */
  find(value: string, now: number, secure: SecureFlag): Awaitable<Session<T> | null> {
    let token = value;
    let stale = false;
    const { secrets } = this.#ctx.options;
    if (secrets) {
      const verified = verifySignedToken(value, secrets);
      if (!verified) return null;
      token = verified.token;
      stale = verified.stale;
    } else if (!isWellFormedToken(value)) {
      return null;
    }
    const key = this.#ctx.keyOf(token);
    const store = this.#server.store;
    const record = this.#ctx.call("get", (o) => store.get(key, o));
    if (record instanceof Promise) return record.then((found) => this.#fromRecord(found, token, key, stale, now, secure));
    return this.#fromRecord(record, token, key, stale, now, secure);
  }

  #fromRecord(record: StoredSession | null, token: string, key: string, stale: boolean, now: number, secure: SecureFlag): Awaitable<Session<T> | null> {
    if (!record) return null;
    const envelope = this.#ctx.live(record.data, record.expiresAt, now);
    if (!envelope) {
      // The previous id of a renewed session: one more read, for such requests only.
      if (isForward(record.data)) return this.#followed(record, token, now, secure);
      this.#ctx.expiredRecord(record.data, record.expiresAt, token, key, now);
      return null;
    }
    return this.#session(record, envelope, token, key, stale, now, secure);
  }

  #session(record: StoredSession, envelope: Envelope, token: string, key: string, stale: boolean, now: number, secure: SecureFlag): Session<T> | null {
    const state = newState(now, secure, envelope.createdAt, envelope.data);
    if (envelope.user && !restoreUser(state, envelope.user, token, key)) return null;
    state.token = token;
    state.storedKey = key;
    state.version = record.version;
    state.storedExpiresAt = record.expiresAt;
    state.renewal = envelope.renewal;
    state.sendCookie = stale;
    state.clientHasCookie = true;
    return this.#ctx.session<T>(state, false);
  }

  /** The current session under a renewal's forward; its response carries the current cookie. */
  async #followed(forward: StoredSession, token: string, now: number, secure: SecureFlag): Promise<Session<T> | null> {
    const current = await readForward(this.#ctx, this.#server.store, forward, token);
    if (!current) return null;
    const session = this.#session(current.record, current.envelope, current.token, current.key, true, now, secure);
    if (session) session[INTERNALS].followed = true;
    return session;
  }

  prepare(session: Session<T>, state: SessionInternals): PreparedCommit {
    const ctx = this.#ctx;
    if (state.status === "destroyed") return sendOnly(expireHeaders(ctx, state));
    const now = ctx.now();
    state.usedAt = Math.max(state.usedAt, now); // the idle window counts from this commit
    if (this.#renewalDue(session, state, now)) return this.#renew(session, state, now);
    const expiresAt = ctx.expiresAt(state);
    if (state.status === "modified") {
      const data = ctx.encode(state); // encode errors throw now, before any header goes out
      const headers = session.isNew || state.sendCookie ? cookieHeaders(ctx, state, now) : [];
      const persisted = this.#persist(session, state, data, expiresAt, headers);
      return persisted ? { headers, persisted, pending: true } : sendOnly(headers);
    }
    if (session.isNew) return sendOnly([]);
    const touchDue = expiresAt - state.storedExpiresAt >= ctx.options.touchInterval;
    if (!touchDue) return sendOnly(state.sendCookie ? cookieHeaders(ctx, state, now) : []);
    const headers = state.sendCookie ? cookieHeaders(ctx, state, now) : [];
    const touched = touchRecord(ctx, this.#server, state, state.storedKey!, expiresAt).then(() => committed(session, state, expiresAt));
    return { headers, persisted: touched, pending: true };
  }

  /** Option `renewInterval`: a stored session whose id is older than that since its last rotation. */
  #renewalDue(session: Session<T>, state: SessionInternals, now: number): boolean {
    const interval = this.#ctx.options.renewInterval;
    return interval > 0 && !session.isNew && state.storedKey !== undefined && !state.user?.fresh && now - this.#ctx.rotatedAt(state) >= interval;
  }

  /**
   * A new id on this response, the previous one forwarding for `renewGrace` (identity.ts, renew).
   * The cookie is known now; when another request renewed first this one joins the current
   * record instead, writes its changes there and sends that record's cookie.
   */
  #renew(session: Session<T>, state: SessionInternals, now: number): PreparedCommit {
    const ctx = this.#ctx;
    if (state.status === "modified") ctx.encode(state); // encode errors throw now, before the new cookie goes out
    const renewing = renew(ctx, state); // sets the new token before its first store call
    const headers = cookieHeaders(ctx, state, now);
    const persisted = renewing.then(async (outcome) => {
      if (outcome === "gone" || state.superseded) return supersede(state, headers); // ended meanwhile, or by a revocation
      const expiresAt = ctx.expiresAt(state);
      if (outcome === "renewed") return committed(session, state, expiresAt);
      headers.splice(0, 1, ...cookieHeaders(ctx, state, now)); // the current record's cookie, not the abandoned one
      if (state.status !== "modified") return committed(session, state, expiresAt);
      if (await writeRecord(ctx, this.#server.store, state, state.storedKey!, expiresAt)) committed(session, state, expiresAt);
      else supersede(state, headers);
    });
    return { headers, persisted, pending: true };
  }

  /**
   * Writes a modified session. Returns undefined when a synchronous store (MemoryStore) applied
   * it at once, so the response need not wait a tick; otherwise the promise of the write.
   * `encoded` is the first attempt's text, already checked for size.
   */
  #persist(session: Session<T>, state: SessionInternals, encoded: string, expiresAt: number, headers: SessionHeader[]): Promise<void> | undefined {
    const key = state.storedKey ?? this.#ctx.keyOf(session.id);
    if (state.user?.fresh) return this.#persistSignedIn(session, state, key, expiresAt, encoded, headers);
    const written = writeRecord(this.#ctx, this.#server.store, state, key, expiresAt, encoded);
    if (written === true) {
      this.#written(session, state, key, expiresAt);
      return undefined;
    }
    const followed = state.followed;
    const hadCookie = headers.length > 0; // the cookie, if any, is the first header
    return Promise.resolve(written).then((applied) => {
      if (!applied) return supersede(state, headers);
      // Renewed by another request meanwhile: the write went to the current record, whose cookie goes out.
      if (state.followed && !followed) headers.splice(0, hadCookie ? 1 : 0, ...cookieHeaders(this.#ctx, state, this.#ctx.now()));
      this.#written(session, state, state.storedKey ?? key, expiresAt);
    });
  }

  /** The first write of a session signed in before it was ever stored: index entry first, cap after. */
  async #persistSignedIn(session: Session<T>, state: SessionInternals, key: string, expiresAt: number, encoded: string, headers: SessionHeader[]): Promise<void> {
    const pendingUntil = this.#ctx.pendingUntil(expiresAt);
    await indexOwner(this.#ctx, this.#server, state, key, expiresAt);
    if (!(await writeRecord(this.#ctx, this.#server.store, state, key, pendingUntil, encoded))) return supersede(state, headers);
    this.#written(session, state, key, pendingUntil);
    await completeSignIn(this.#ctx, state, this.#server, key, expiresAt);
    if (state.superseded) headers.length = 0; // ended by a revocation or a newer sign-in
  }

  #written(session: Session<T>, state: SessionInternals, key: string, expiresAt: number): void {
    state.storedKey = key;
    if (session.isNew) this.#ctx.emit("created", state, state.user?.id);
    committed(session, state, expiresAt);
  }
}

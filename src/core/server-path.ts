/** Sessions kept in a server-side store: one read to load, one compare-and-set write to commit. */
import type { ServerStore } from "./abilities.js";
import type { ManagerContext } from "./context.js";
import { completeSignIn, indexOwner, supersede } from "./identity.js";
import { isWellFormedToken, verifySignedToken } from "./ids.js";
import type { SessionHeader } from "./node-http.js";
import type { PreparedCommit, SessionPath } from "./paths.js";
import { committed, restoreUser, sendOnly } from "./paths.js";
import { touchRecord, writeRecord } from "./records.js";
import type { SecureFlag, Session, SessionInternals } from "./session.js";
import { newState } from "./session.js";
import { cookieHeaders, expireHeaders } from "./session-headers.js";
import type { Awaitable, StoredSession } from "./store.js";

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

  #fromRecord(record: StoredSession | null, token: string, key: string, stale: boolean, now: number, secure: SecureFlag): Session<T> | null {
    const envelope = record ? this.#ctx.live(record.data, record.expiresAt, now) : null;
    if (!record || !envelope) return null;
    const state = newState(now, secure, envelope.createdAt, envelope.data);
    if (envelope.user && !restoreUser(state, envelope.user, token, key)) return null;
    state.token = token;
    state.storedKey = key;
    state.version = record.version;
    state.storedExpiresAt = record.expiresAt;
    state.sendCookie = stale;
    state.clientHasCookie = true;
    return this.#ctx.session<T>(state, false);
  }

  prepare(session: Session<T>, state: SessionInternals): PreparedCommit {
    const ctx = this.#ctx;
    if (state.status === "destroyed") return sendOnly(expireHeaders(ctx, state));
    const now = ctx.now();
    state.usedAt = Math.max(state.usedAt, now); // the idle window counts from this commit
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
    return Promise.resolve(written).then((applied) => {
      if (applied) this.#written(session, state, key, expiresAt);
      else supersede(state, headers);
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

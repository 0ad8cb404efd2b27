/**
 * The one object the manager's paths and the identity functions share: options, the store with
 * its abilities, store calls under `storeTimeout`, the record codec, events, and the Session host.
 * Made once per manager.
 */
import type { Envelope, Renewal } from "./envelope.js";
import { decodeEnvelope, encodeEnvelope, handleOfKey, openUserId, userMeta } from "./envelope.js";
import type { ServerStore } from "./abilities.js";
import { SessionTooLargeError } from "./errors.js";
import type { SessionEvent, SessionEventType } from "./events.js";
import { emitSafely } from "./events.js";
import { destroy, reauthenticated, regenerate, signIn } from "./identity.js";
import { generateToken, hashToken } from "./ids.js";
import type { ResolvedOptions } from "./options.js";
import type { SessionHost, SessionInternals, SessionLifetime, SignInOptions } from "./session.js";
import { Session } from "./session.js";
import type { Awaitable, StoreCallOptions } from "./store.js";
import { PENDING_GRACE_MS } from "./store.js";
import { StoreCalls } from "./store-call.js";
import type { SessionTrace } from "./tracing.js";
import { publishEnded, storeOutcome, tracers } from "./tracing.js";

export class ManagerContext implements SessionHost {
  readonly options: ResolvedOptions;
  readonly idleTimeout: number;
  readonly absoluteTimeout: number;
  /** How long a sign-in's or rotation's new record stays pending at most (see pendingUntil). */
  readonly pendingWindow: number;
  /** NODE_ENV read once: process.env is a call into the runtime on every read. */
  readonly inProduction = globalThis.process?.env?.NODE_ENV === "production";
  /** The server store, or null for cookie sessions (and until a provider's store is ready). */
  server: ServerStore | null = null;
  /** The store's class name, for diagnostics_channel messages (tracing.ts). */
  storeKind = "unknown";
  readonly #calls: StoreCalls;

  constructor(options: ResolvedOptions) {
    this.options = options;
    this.idleTimeout = options.idleTimeout;
    this.absoluteTimeout = options.absoluteTimeout;
    this.#calls = new StoreCalls(options.storeTimeout);
    this.pendingWindow = Math.max(PENDING_GRACE_MS, 10 * options.storeTimeout);
  }

  now(): number {
    return this.options.now();
  }

  newToken(): string {
    return generateToken();
  }

  /** Every store call goes through here: storeTimeout, its abort signal, typed errors, `sessionkit:store`. */
  call<R>(operation: string, run: (options: StoreCallOptions) => Awaitable<R>): Awaitable<R> {
    const tracer = tracers.store;
    if (!tracer.active) return this.#calls.run(operation, run);
    return tracer.trace(this.traceOf(operation), () => this.#calls.run(operation, run), (result) => storeOutcome(operation, result));
  }

  /** A new message for a sessionkit TracingChannel: only made once `active` said someone listens. */
  traceOf(operation: string): SessionTrace {
    return { store: this.storeKind, operation, outcome: undefined };
  }

  session<T extends object>(state: SessionInternals, isNew: boolean): Session<T> {
    return new Session<T>(this, state, isNew);
  }

  /** The longest a session may live: how long a revocation's fence must be kept. */
  get longestLifetime(): number {
    return this.options.maxAbsoluteTimeout;
  }

  /** The session's own lifetime (signIn's options, within today's maximums) or the manager's. */
  expiresAt(state: SessionInternals): number {
    const lifetime = state.user?.lifetime;
    const idle = Math.min(lifetime?.idleTimeout ?? this.idleTimeout, this.options.maxIdleTimeout);
    return Math.min(state.usedAt + idle, state.createdAt + this.absoluteOf(lifetime));
  }

  /**
   * The expiry a sign-in or a rotation writes its new record with until its last step confirms
   * it (identity.ts, confirmRecord): a process that dies in between leaves a record no client
   * ever received, and it ends within the pending window instead of idling out.
   */
  pendingUntil(expiresAt: number): number {
    // A renewal's loser forwards from its new record for renewGrace: pending must outlast that.
    return Math.min(expiresAt, this.now() + Math.max(this.pendingWindow, this.options.renewGrace));
  }

  absoluteOf(lifetime: SessionLifetime | undefined): number {
    return Math.min(lifetime?.absoluteTimeout ?? this.absoluteTimeout, this.options.maxAbsoluteTimeout);
  }

  keyOf(token: string): string {
    return this.options.hashIds ? hashToken(token) : token;
  }

  handleOf(state: SessionInternals): string {
    return state.user?.handle ?? this.handleOfToken((state.token ??= generateToken()));
  }

  handleOfToken(token: string): string {
    return handleOfKey(this.keyOf(token));
  }

  regenerate(state: SessionInternals): Promise<void> {
    return regenerate(this, state);
  }

  signIn(state: SessionInternals, userId: string, options: SignInOptions): Promise<void> {
    const tracer = tracers.signIn;
    if (!tracer.active) return signIn(this, state, userId, options);
    return tracer.trace(this.traceOf("signIn"), () => signIn(this, state, userId, options), () => (state.superseded ? "superseded" : "signed-in")) as Promise<void>;
  }

  reauthenticated(state: SessionInternals, method: string | undefined): Promise<void> {
    return reauthenticated(this, state, method);
  }

  destroy(state: SessionInternals): Promise<void> {
    return destroy(this, state);
  }

  /** The record text of the session; throws SessionTooLargeError over `maxSize`. */
  encode(state: SessionInternals): string {
    const user = state.user ? userMeta(state.user, (state.token ??= generateToken()), this.now(), this.options.atRest) : undefined;
    const text = encodeEnvelope(this.options.codec, state.createdAt, state.data, user, this.#renewalOf(state));
    // Cheap bound first: a UTF-8 string is at most 3 bytes per UTF-16 unit.
    if (text.length * 3 > this.options.maxSize) {
      const size = Buffer.byteLength(text);
      if (size > this.options.maxSize) throw new SessionTooLargeError(size, this.options.maxSize);
    }
    return text;
  }

  /** What the record keeps of the renewal: nothing with renewal off, the forward only while it lasts. */
  #renewalOf(state: SessionInternals): Renewal | undefined {
    const renewal = state.renewal;
    if (!renewal || this.options.renewInterval === 0) return undefined;
    if (!renewal.previous || renewal.previous.graceUntil > this.now()) return renewal;
    return (state.renewal = { rotatedAt: renewal.rotatedAt, previous: undefined });
  }

  /** When a session got its current id: its last renewal, else its last sign-in or authentication, else its creation. */
  rotatedAt(state: SessionInternals): number {
    const user = state.user;
    return state.renewal?.rotatedAt ?? Math.max(state.createdAt, user?.signedInAt ?? 0, user?.authenticatedAt ?? 0);
  }

  /**
   * A record that decodes but is past its expiry (a store may return one whose idle deadline is
   * gone but whose absolute one the manager now sets shorter): "expired", with the user id when
   * the token opens it. Only with a listener.
   */
  expiredRecord(text: string, expiresAt: number, token: string, key: string, now = this.now()): void {
    if (!this.options.onEvent || this.live(text, expiresAt, now)) return;
    const envelope = decodeEnvelope(this.options.codec, text);
    if (!envelope) return;
    const user = envelope.user;
    const userId = user ? (openUserId(user.sealedId, token) ?? undefined) : undefined;
    this.emit("expired", user?.handle ?? handleOfKey(key), userId);
  }

  /** The envelope of a record that may still load at `now`; null for anything else. */
  live(text: string | undefined, expiresAt: number, now = this.now()): Envelope | null {
    if (text === undefined || expiresAt <= now) return null;
    const envelope = decodeEnvelope(this.options.codec, text);
    return envelope && envelope.createdAt + this.absoluteOf(envelope.user?.lifetime) > now ? envelope : null;
  }

  /** Costs nothing without a listener: a session's handle (two hashes) is made only for one. */
  emit(type: SessionEventType, subject: string | SessionInternals, userId: string | undefined, count?: number): void {
    if (type === "destroyed" || type === "revoked" || type === "evicted") publishEnded(this.storeKind, type, 1);
    const listener = this.options.onEvent;
    if (!listener) return;
    const handle = typeof subject === "string" ? subject : this.handleOf(subject);
    const event: SessionEvent = { type, handle, at: new Date(this.now()) };
    if (userId !== undefined) event.userId = userId;
    if (count !== undefined) event.count = count;
    emitSafely(listener, event);
  }
}

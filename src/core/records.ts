import type { ManagerContext } from "./context.js";
import { final } from "./store-call.js";
import type { ServerStore } from "./abilities.js";
import { SessionConflictError } from "./errors.js";
import type { Envelope } from "./envelope.js";
import { RETIRED, encodeForward, followForward, isForward } from "./envelope.js";
import type { SessionInternals } from "./session.js";
import { replayChanges } from "./session.js";
import type { Awaitable, SessionStore, SessionWrite, StoredSession } from "./store.js";
import { tracers } from "./tracing.js";

/** What these helpers use of the manager's one context. */
export type RecordContext = Pick<ManagerContext, "call" | "encode" | "live" | "keyOf" | "now" | "traceOf">;

// Each retry follows a write that another request won, so progress is guaranteed; the bound
// only stops a pathological pile-up, and backoff with full jitter keeps it from being reached.
export const MAX_WRITE_ATTEMPTS = 64;
const BACKOFF_CAP_MS = 64;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): no herd retries in step. */
function backoff(attempt: number): Promise<void> {
  return sleep(Math.random() * Math.min(BACKOFF_CAP_MS, 2 ** attempt));
}

function writeOf(state: SessionInternals, data: string, expiresAt: number, expected: number): SessionWrite {
  const write: SessionWrite = { data, expiresAt, version: expected + 1, expectedVersion: expected };
  if (state.user) write.owner = state.user.owner;
  return write;
}

/**
 * Writes the session under `key` at its loaded version. Resolves true when stored, false when
 * the record is gone (destroyed, rotated or expired by another request: the caller marks the
 * session superseded). Returns a plain `true` when a synchronous store applied it at once.
 */
export function writeRecord(
  ctx: RecordContext,
  store: SessionStore,
  state: SessionInternals,
  key: string,
  expiresAt: number,
  encoded = ctx.encode(state),
): Awaitable<boolean> {
  const expected = state.storedKey ? state.version : 0;
  const first = ctx.call("set", (o) => store.set(key, writeOf(state, encoded, expiresAt, expected), o));
  if (first === true) {
    state.version = expected + 1;
    return true;
  }
  return retryWrite(ctx, store, state, key, expiresAt, expected, first);
}

/** The current session a renewal's forward names, found with the token it was sealed for. */
export interface Forwarded {
  token: string;
  key: string;
  record: StoredSession;
  envelope: Envelope;
}

/**
 * When `found` (the record under the id a request holds) is a renewal's forward within its grace:
 * the current record. Null for anything else, and for a forward to another forward: only the
 * immediately previous id is followed, never a chain.
 */
export async function readForward(ctx: RecordContext, store: SessionStore, found: StoredSession, token: string): Promise<Forwarded | null> {
  if (!isForward(found.data)) return null;
  const current = followForward(found.data, token, ctx.now());
  if (current === null) return null;
  const key = ctx.keyOf(current);
  const record = await ctx.call("get", (o) => store.get(key, o));
  const envelope = record ? ctx.live(record.data, record.expiresAt) : null;
  return record && envelope ? { token: current, key, record, envelope } : null;
}

/**
 * A request that loaded the session before another request renewed its id carries on with the
 * current record: its token and key, its version, and this request's changes replayed on its data
 * (the same compare-and-set as any conflict). The response then carries the current cookie.
 */
export function adoptForwarded(state: SessionInternals, forwarded: Forwarded): void {
  state.followed = true;
  state.token = forwarded.token;
  state.storedKey = forwarded.key;
  state.version = forwarded.record.version;
  state.storedExpiresAt = forwarded.record.expiresAt;
  state.data = replayChanges(forwarded.envelope.data, state);
  state.renewal = forwarded.envelope.renewal;
  state.sendCookie = true;
  if (state.user) state.user.sealedId = forwarded.envelope.user?.sealedId; // sealed under the current token
}

/** The forward under `key` followed once, when this request has not followed one yet. */
async function forwardOf(ctx: RecordContext, store: SessionStore, state: SessionInternals, found: StoredSession | null): Promise<Forwarded | null> {
  if (!found || state.followed || !state.token) return null;
  return readForward(ctx, store, found, state.token);
}

async function retryWrite(
  ctx: RecordContext,
  store: SessionStore,
  state: SessionInternals,
  key: string,
  expiresAt: number,
  expected: number,
  firstAttempt: Awaitable<boolean>,
): Promise<boolean> {
  if (await firstAttempt) {
    state.version = expected + 1;
    return true;
  }
  return resolvingConflict(ctx, "set", () => replayUntilWritten(ctx, store, state, key, expiresAt), (written) => (written ? "merged" : "gone"));
}

/** Another request wrote first: replay our changed keys on its data (no lost update), until a write holds. */
async function replayUntilWritten(ctx: RecordContext, store: SessionStore, state: SessionInternals, key: string, expiresAt: number): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    if (attempt >= MAX_WRITE_ATTEMPTS) throw new SessionConflictError(attempt);
    if (attempt > 1) await backoff(attempt);
    const fresher = await ctx.call("get", (o) => store.get(key, o));
    const envelope = fresher ? ctx.live(fresher.data, fresher.expiresAt) : null;
    let expected: number;
    if (fresher && envelope) {
      state.data = replayChanges(envelope.data, state);
      expected = fresher.version;
    } else {
      // Renewed by another request meanwhile: the write goes to the current record.
      const forwarded = await forwardOf(ctx, store, state, fresher);
      if (!forwarded) return false; // a slower request must not bring it back
      adoptForwarded(state, forwarded);
      key = forwarded.key;
      expected = forwarded.record.version;
    }
    if (await ctx.call("set", (o) => store.set(key, writeOf(state, ctx.encode(state), expiresAt, expected), o))) {
      state.version = expected + 1;
      return true;
    }
  }
}

/** A lost compare-and-set's resolution, traced on `sessionkit:conflict` when someone listens. */
function resolvingConflict<R>(ctx: RecordContext, operation: "set" | "rotate", resolve: () => Promise<R>, outcomeOf: (result: R) => string): Promise<R> {
  const tracer = tracers.conflict;
  if (!tracer.active) return resolve();
  return tracer.trace(ctx.traceOf(operation), resolve, outcomeOf) as Promise<R>;
}

/** How a rotation treats the old key: retired at once, or (a renewal) forwarding until `graceUntil`. */
export interface Retirement {
  /** The token of the old key: a renewal's forward is sealed under it, and another request's is opened with it. */
  previousToken: string | undefined;
  /** Set for a renewal: the end of the previous id's grace window. */
  graceUntil: number | undefined;
}

/** "rotated" names the key it retired; "joined": a renewal found the session renewed already, and `state` took the current record. */
export type Rotation = { outcome: "rotated"; retired: string } | { outcome: "gone" } | { outcome: "joined" };

/**
 * Moves the session from `oldKey` (at the version this request loaded) to `newKey`, so that:
 * - the new record exists before the old one stops loading (a failure leaves the user signed in);
 * - the old record is retired by a compare-and-set, so a logout or a concurrent rotation that
 *   came first wins, and the new record is then removed (logout is final, one live id);
 * - a change another request committed to the old record first is carried into the new one;
 * - a renewal leaves a forward instead of retiring (kept, not destroyed), and when another
 *   request renewed first, joins the current record rather than renew twice; a rotation the app
 *   asked for moves the current record instead (the forward is followed once, never a chain).
 * `state` holds the new token already.
 */
export async function rotateRecord(
  ctx: RecordContext,
  store: SessionStore,
  state: SessionInternals,
  oldKey: string,
  newKey: string,
  expiresAt: number,
  retirement: Retirement = { previousToken: undefined, graceUntil: undefined },
): Promise<Rotation> {
  const { previousToken, graceUntil } = retirement;
  const renewing = graceUntil !== undefined && previousToken !== undefined;
  const retired = renewing ? encodeForward(state.token!, previousToken, graceUntil) : RETIRED;
  const move: Move = { ctx, store, state, oldKey, newKey, expiresAt, retirement, retired, renewing, oldVersion: state.version, newVersion: 0 };
  if (await moveOnce(move, 1)) return { outcome: "rotated", retired: move.oldKey };
  return resolvingConflict(ctx, "rotate", () => retryMove(move), (rotation) => (rotation.outcome === "gone" ? "gone" : "merged"));
}

/** One rotation in progress: the versions it expects of the old record and has written to the new one. */
interface Move {
  ctx: RecordContext;
  store: SessionStore;
  state: SessionInternals;
  oldKey: string;
  newKey: string;
  expiresAt: number;
  retirement: Retirement;
  /** What the old key becomes: RETIRED, or a renewal's forward. */
  retired: string;
  renewing: boolean;
  oldVersion: number;
  newVersion: number;
}

/** Writes the new record, then retires the old one; false when the old one changed since `oldVersion`. */
async function moveOnce(move: Move, attempt: number): Promise<boolean> {
  const { ctx, store, state, oldKey, newKey, expiresAt, oldVersion } = move;
  const placed = await ctx.call("set", (o) => store.set(newKey, writeOf(state, ctx.encode(state), expiresAt, move.newVersion), o));
  if (!placed) throw new SessionConflictError(attempt); // nobody else knows the new key: a broken store
  move.newVersion++;
  const retire: SessionWrite = { data: move.retired, expiresAt, version: oldVersion + 1, expectedVersion: oldVersion };
  if (!(await ctx.call("set", (o) => store.set(oldKey, retire, final(o))))) return false;
  if (!move.renewing) await ctx.call("destroy", (o) => store.destroy(oldKey, o));
  state.version = move.newVersion;
  return true;
}

/** The old record changed under the rotation: carry that change (or follow a renewal) and move again. */
async function retryMove(move: Move): Promise<Rotation> {
  const { ctx, store, state, newKey, expiresAt } = move;
  const { previousToken, graceUntil } = move.retirement;
  for (let attempt = 1; ; attempt++) {
    const fresher = await ctx.call("get", (o) => store.get(move.oldKey, o));
    const envelope = fresher ? ctx.live(fresher.data, fresher.expiresAt) : null;
    if (fresher && envelope) {
      if (attempt >= MAX_WRITE_ATTEMPTS) {
        await ctx.call("destroy", (o) => store.destroy(newKey, o));
        throw new SessionConflictError(attempt);
      }
      state.data = replayChanges(envelope.data, state);
      move.oldVersion = fresher.version;
      if (attempt > 1) await backoff(attempt);
    } else {
      const forwarded = fresher && !state.followed && previousToken ? await readForward(ctx, store, fresher, previousToken) : null;
      if (!forwarded) {
        await ctx.call("destroy", (o) => store.destroy(newKey, o));
        return { outcome: "gone" };
      }
      if (move.renewing) {
        // A streamed response may have sent this new id already: it forwards to the winner's for the same grace.
        const rejoin: SessionWrite = { data: encodeForward(forwarded.token, state.token!, graceUntil!), expiresAt, version: move.newVersion + 1, expectedVersion: move.newVersion };
        await ctx.call("set", (o) => store.set(newKey, rejoin, final(o)));
        adoptForwarded(state, forwarded);
        return { outcome: "joined" };
      }
      state.followed = true;
      state.data = replayChanges(forwarded.envelope.data, state);
      move.oldKey = forwarded.key;
      move.oldVersion = forwarded.record.version;
    }
    if (await moveOnce(move, attempt + 1)) return { outcome: "rotated", retired: move.oldKey };
  }
}

/** Moves a live record's expiry later; never creates one, never shortens one. */
export async function touchRecord(ctx: RecordContext, server: ServerStore, state: SessionInternals, key: string, expiresAt: number): Promise<void> {
  const { touch, store } = server;
  if (touch) {
    await ctx.call("touch", (o) => touch(key, expiresAt, o));
    return;
  }
  // A conflict means another request just wrote, which moved the expiry anyway.
  const write = writeOf(state, ctx.encode(state), expiresAt, state.version);
  if (await ctx.call("set", (o) => store.set(key, write, o))) state.version++;
}

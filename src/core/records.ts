import type { ManagerContext } from "./context.js";
import { final } from "./store-call.js";
import type { ServerStore } from "./abilities.js";
import { SessionConflictError } from "./errors.js";
import { RETIRED } from "./envelope.js";
import type { SessionInternals } from "./session.js";
import { replayChanges } from "./session.js";
import type { Awaitable, SessionStore, SessionWrite } from "./store.js";
import { tracers } from "./tracing.js";

/** What these helpers use of the manager's one context. */
export type RecordContext = Pick<ManagerContext, "call" | "encode" | "live" | "traceOf">;

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
  return resolvingConflict(ctx, "set", () => replayUntilWritten(ctx, store, state, key, expiresAt));
}

/** Another request wrote first: replay our changed keys on its data (no lost update), until a write holds. */
async function replayUntilWritten(ctx: RecordContext, store: SessionStore, state: SessionInternals, key: string, expiresAt: number): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    if (attempt >= MAX_WRITE_ATTEMPTS) throw new SessionConflictError(attempt);
    if (attempt > 1) await backoff(attempt);
    const fresher = await ctx.call("get", (o) => store.get(key, o));
    const envelope = fresher ? ctx.live(fresher.data, fresher.expiresAt) : null;
    if (!fresher || !envelope) return false; // a slower request must not bring it back
    state.data = replayChanges(envelope.data, state);
    const write = writeOf(state, ctx.encode(state), expiresAt, fresher.version);
    if (await ctx.call("set", (o) => store.set(key, write, o))) {
      state.version = fresher.version + 1;
      return true;
    }
  }
}

/** A lost compare-and-set's resolution, traced on `sessionkit:conflict` when someone listens. */
function resolvingConflict(ctx: RecordContext, operation: "set" | "rotate", resolve: () => Promise<boolean>): Promise<boolean> {
  const tracer = tracers.conflict;
  if (!tracer.active) return resolve();
  return tracer.trace(ctx.traceOf(operation), resolve, (written) => (written ? "merged" : "gone")) as Promise<boolean>;
}

/**
 * Moves the session from `oldKey` (at the version this request loaded) to `newKey`, so that:
 * - the new record exists before the old one stops loading (a failure leaves the user signed in);
 * - the old record is retired by a compare-and-set, so a logout or a concurrent rotation that
 *   came first wins, and the new record is then removed (logout is final, one live id);
 * - a change another request committed to the old record first is carried into the new one.
 * `state` holds the new token already; resolves false when the session was gone.
 */
export async function rotateRecord(ctx: RecordContext, store: SessionStore, state: SessionInternals, oldKey: string, newKey: string, expiresAt: number): Promise<boolean> {
  const move: Move = { ctx, store, state, oldKey, newKey, expiresAt, oldVersion: state.version, newVersion: 0 };
  if (await moveOnce(move, 1)) return true;
  return resolvingConflict(ctx, "rotate", () => retryMove(move));
}

/** One rotation in progress: the versions it expects of the old record and has written to the new one. */
interface Move {
  ctx: RecordContext;
  store: SessionStore;
  state: SessionInternals;
  oldKey: string;
  newKey: string;
  expiresAt: number;
  oldVersion: number;
  newVersion: number;
}

/** Writes the new record, then retires the old one; false when the old one changed since `oldVersion`. */
async function moveOnce(move: Move, attempt: number): Promise<boolean> {
  const { ctx, store, state, oldKey, newKey, expiresAt, oldVersion } = move;
  const placed = await ctx.call("set", (o) => store.set(newKey, writeOf(state, ctx.encode(state), expiresAt, move.newVersion), o));
  if (!placed) throw new SessionConflictError(attempt); // nobody else knows the new key: a broken store
  move.newVersion++;
  const retire: SessionWrite = { data: RETIRED, expiresAt, version: oldVersion + 1, expectedVersion: oldVersion };
  if (!(await ctx.call("set", (o) => store.set(oldKey, retire, final(o))))) return false;
  await ctx.call("destroy", (o) => store.destroy(oldKey, o));
  state.version = move.newVersion;
  return true;
}

/** The old record changed under the rotation: carry that change into the new one and move again. */
async function retryMove(move: Move): Promise<boolean> {
  const { ctx, store, state, oldKey, newKey } = move;
  for (let attempt = 1; ; attempt++) {
    const fresher = await ctx.call("get", (o) => store.get(oldKey, o));
    const envelope = fresher ? ctx.live(fresher.data, fresher.expiresAt) : null;
    if (!fresher || !envelope) {
      await ctx.call("destroy", (o) => store.destroy(newKey, o));
      return false;
    }
    if (attempt >= MAX_WRITE_ATTEMPTS) {
      await ctx.call("destroy", (o) => store.destroy(newKey, o));
      throw new SessionConflictError(attempt);
    }
    state.data = replayChanges(envelope.data, state);
    move.oldVersion = fresher.version;
    if (attempt > 1) await backoff(attempt);
    if (await moveOnce(move, attempt + 1)) return true;
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

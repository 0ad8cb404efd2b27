/**
 * What the manager publishes on `node:diagnostics_channel`, so OpenTelemetry and APM
 * instrumentations can hook in without patching (docs/observability.md). Each name but `ended`
 * is a TracingChannel (`tracing:<name>:start`, `:end`, `:asyncStart`, `:asyncEnd`, `:error`);
 * `ended` is a plain channel.
 *
 * Nothing is built while no one subscribes: every caller asks `active` first, so the request
 * path allocates nothing more. A message names the store's class, the operation and its outcome,
 * never a token, a store key, a handle or a user id.
 *
 * The namespace import keeps a runtime without TracingChannel (an older Deno or workerd) able to
 * load this module: there nothing is published.
 */
import * as diagnostics from "node:diagnostics_channel";
import type { Awaitable } from "./store.js";

/** The channel names, one per traced kind of work. */
export const SESSIONKIT_CHANNELS = Object.freeze({
  /** One request's session read (`load`, `start`, `loadRequest` and the adapters). */
  load: "sessionkit:load",
  /** One commit, from `prepareCommit` until its write settles. */
  commit: "sessionkit:commit",
  /** Every call into the store (`get`, `set`, `destroy`, `touch`, `indexOwner`, ...). */
  store: "sessionkit:store",
  /** Resolving one lost compare-and-set: re-read, replay this request's changes, write again. */
  conflict: "sessionkit:conflict",
  /** `session.signIn()`. */
  signIn: "sessionkit:sign-in",
  /** `manager.revokeSession()` and `manager.revokeUser()`. */
  revoke: "sessionkit:revoke",
  /** `manager.gc()`, the periodic one included. */
  gc: "sessionkit:gc",
  /** Plain channel: sessions ended, by reason ("destroyed", "revoked", "evicted", "expired"). */
  ended: "sessionkit:session-ended",
} as const);

/** The context object of every sessionkit TracingChannel. */
export interface SessionTrace {
  /** The store's class name ("MemoryStore", "RedisStore"); "unknown" until a provider's store is ready. */
  store: string;
  /** The store method on `sessionkit:store`; "revokeSession" or "revokeUser" on `sessionkit:revoke`; else the channel's own work ("load", "commit", "set", "rotate", "signIn", "gc"). */
  operation: string;
  /**
   * Set once the work has settled, so it is still undefined at `end` when the work returned a
   * promise (`asyncEnd` follows). store: "hit" / "miss" (get), "applied" / "conflict" (set), "ok";
   * load: "none" (no token sent), "found", "not-found"; commit: "ok", "superseded";
   * conflict: "merged", "gone"; sign-in: "signed-in", "superseded"; revoke, gc: "ok". "error" on failure.
   */
  outcome?: string;
  /** revoke: sessions ended; gc: expired sessions removed. */
  count?: number;
  /** The error thrown, on `error` and after. */
  error?: unknown;
}

/** A `sessionkit:session-ended` message. */
export interface SessionEnded {
  store: string;
  reason: "destroyed" | "revoked" | "evicted" | "expired";
  /** Sessions ended by this event: 1, or what one gc() removed. */
  count: number;
}

/** One sessionkit TracingChannel: `active` first, then `trace`. */
export class Tracer {
  readonly #channel: diagnostics.TracingChannel<unknown, SessionTrace> | undefined;

  constructor(name: string) {
    this.#channel = typeof diagnostics.tracingChannel === "function" ? diagnostics.tracingChannel<unknown, SessionTrace>(name) : undefined;
  }

  /** Someone subscribes to any of this channel's events. */
  get active(): boolean {
    const channel = this.#channel;
    if (!channel) return false;
    // TracingChannel.hasSubscribers came in Node 20.13; elsewhere ask its five channels.
    return (
      channel.hasSubscribers ??
      (channel.start.hasSubscribers || channel.end.hasSubscribers || channel.asyncStart.hasSubscribers || channel.asyncEnd.hasSubscribers || channel.error.hasSubscribers)
    );
  }

  /**
   * Runs `work` as Node's traceSync/tracePromise would (inside `start.runStores`, so a subscriber's
   * AsyncLocalStorage is bound), but keeps a synchronous result synchronous and never puts the
   * result itself in the message (a store's answer holds keys and session data): `outcomeOf` names it.
   */
  trace<R>(message: SessionTrace, work: () => Awaitable<R>, outcomeOf: (result: R) => string): Awaitable<R> {
    const channel = this.#channel!;
    const run = (): Awaitable<R> => {
      try {
        const result = work();
        if (!(result instanceof Promise)) {
          message.outcome = outcomeOf(result);
          return result;
        }
        return result.then(
          (value: R) => (settled(channel, message, outcomeOf(value)), value),
          (error: unknown) => {
            failed(channel, message, error);
            settled(channel, message, "error");
            throw error;
          },
        );
      } catch (error) {
        failed(channel, message, error);
        throw error;
      } finally {
        channel.end.publish(message);
      }
    };
    const start = channel.start;
    if (typeof start.runStores === "function") return start.runStores(message, run);
    start.publish(message);
    return run();
  }
}

function failed(channel: diagnostics.TracingChannel<unknown, SessionTrace>, message: SessionTrace, error: unknown): void {
  message.outcome = "error";
  message.error = error;
  channel.error.publish(message);
}

function settled(channel: diagnostics.TracingChannel<unknown, SessionTrace>, message: SessionTrace, outcome: string): void {
  message.outcome = outcome;
  channel.asyncStart.publish(message);
  channel.asyncEnd.publish(message);
}

/** The manager's channels, made once per process (a channel is found by name, so every copy of sessionkit publishes on the same ones). */
export const tracers = {
  load: new Tracer(SESSIONKIT_CHANNELS.load),
  commit: new Tracer(SESSIONKIT_CHANNELS.commit),
  store: new Tracer(SESSIONKIT_CHANNELS.store),
  conflict: new Tracer(SESSIONKIT_CHANNELS.conflict),
  signIn: new Tracer(SESSIONKIT_CHANNELS.signIn),
  revoke: new Tracer(SESSIONKIT_CHANNELS.revoke),
  gc: new Tracer(SESSIONKIT_CHANNELS.gc),
};

const endedChannel = typeof diagnostics.channel === "function" ? diagnostics.channel(SESSIONKIT_CHANNELS.ended) : undefined;

/** Publishes on `sessionkit:session-ended` when someone listens; builds nothing otherwise. */
export function publishEnded(store: string, reason: SessionEnded["reason"], count: number): void {
  if (!endedChannel?.hasSubscribers || count === 0) return;
  const message: SessionEnded = { store, reason, count };
  endedChannel.publish(message);
}

/** The outcome of a store call from its answer, without keeping the answer. */
export function storeOutcome(operation: string, result: unknown): string {
  if (operation === "get") return result == null ? "miss" : "hit";
  if (operation === "set") return result === false ? "conflict" : "applied";
  return "ok";
}

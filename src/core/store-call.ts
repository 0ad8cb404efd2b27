import { setMaxListeners } from "node:events";
import { SessionError, SessionStoreError } from "./errors.js";
import type { Awaitable, StoreCallOptions } from "./store.js";

/**
 * Runs store calls under the manager's `storeTimeout`, turning driver failures into
 * SessionStoreError. On timeout the call's signal is aborted, so a store that honours it
 * (node-redis) drops the queued command instead of applying it after the app has already
 * answered 5xx. A store that answers synchronously (MemoryStore) skips all of it.
 *
 * Calls that start within one short window (a tenth of the timeout, 1 to 50 ms) share one
 * timer and one AbortController, as one of each per call cost more CPU than the Redis round trip
 * it guards (measured in bench/README.md, "Speed-ups and what they pay"). So a call
 * times out between `timeout` and `timeout + window` after it started, never before; the
 * shared signal aborts only when a call of its window is still unanswered, and a store has
 * let go of the signal of a call that already settled.
 *
 * Cloudflare Workers forbid using an I/O object (a timer, an AbortController's signal handed to
 * a fetch) from a request other than the one that made it, so there every call gets its own
 * window: detected once, at load.
 */
export class StoreCalls {
  readonly #timeout: number;
  readonly #width: number;
  #open: Window | undefined;

  constructor(timeout: number) {
    this.#timeout = timeout;
    this.#width = PER_REQUEST_IO ? 0 : Math.min(50, Math.max(1, Math.floor(timeout / 10)));
  }

  run<R>(operation: string, call: (options: StoreCallOptions) => Awaitable<R>): Awaitable<R> {
    const window = this.#timeout === 0 ? undefined : this.#window();
    let result: Awaitable<R>;
    try {
      result = call(window ?? NO_LIMIT);
    } catch (error) {
      throw storeError(operation, error);
    }
    if (!(result instanceof Promise)) return result;
    if (!window) return result.catch((error: unknown) => Promise.reject(storeError(operation, error)));
    return window.watch(operation, result);
  }

  /** The window calls starting now join; a new one once it has closed (monotonic clock: a wall-clock jump cannot stretch it). */
  #window(): Window {
    const now = performance.now();
    const open = this.#open;
    if (open && now < open.closesAt) return open;
    return (this.#open = new Window(now + this.#width, this.#width + this.#timeout, this.#timeout));
  }
}

const NO_LIMIT: StoreCallOptions = Object.freeze({});
const FINAL_NO_LIMIT: StoreCallOptions = Object.freeze({ final: true });

/**
 * A call's options marked `final` (it ends a session). The options may be a window shared by
 * other calls: wrapped, never changed, and its signal still made only if the store reads it.
 */
export function final(options: StoreCallOptions): StoreCallOptions {
  if (options === NO_LIMIT) return FINAL_NO_LIMIT;
  return {
    get signal() {
      return options.signal;
    },
    timeout: options.timeout,
    final: true,
  };
}

/** Workers set this user agent (developers.cloudflare.com/workers/runtime-apis/web-standards/#navigatoruseragent). */
const PER_REQUEST_IO = globalThis.navigator?.userAgent === "Cloudflare-Workers";

/** Node's timer object; Workers (and Deno before 2.8) return a number, which has neither method. */
type Timer = ReturnType<typeof setTimeout> & { ref?: () => unknown; unref?: () => unknown };

interface Watched {
  operation: string;
  reject: (error: unknown) => void;
}

/** The calls that started in one window: one timer fires for them all, one signal aborts them all. */
class Window implements StoreCallOptions {
  readonly #pending = new Set<Watched>();
  readonly #timer: Timer;
  #controller: AbortController | undefined;

  constructor(
    readonly closesAt: number,
    delay: number,
    /** Every call of the window has at least this long before its timer fires. */
    readonly timeout: number,
  ) {
    this.#timer = setTimeout(() => this.#expire(), delay);
    this.#timer.unref?.(); // referenced only while a call waits, so an idle app can exit
  }

  /** Made only if a store reads it: one per window, not one per call. */
  get signal(): AbortSignal {
    return (this.#controller ??= sharedController()).signal;
  }

  watch<R>(operation: string, result: Promise<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const watched: Watched = { operation, reject };
      this.#add(watched);
      result.then(
        (value) => (this.#remove(watched), resolve(value)),
        (error: unknown) => (this.#remove(watched), reject(storeError(operation, error))),
      );
    });
  }

  #add(watched: Watched): void {
    this.#pending.add(watched);
    if (this.#pending.size === 1) this.#timer.ref?.();
  }

  #remove(watched: Watched): void {
    if (this.#pending.delete(watched) && this.#pending.size === 0) this.#timer.unref?.();
  }

  #expire(): void {
    if (this.#pending.size === 0) return;
    const cause = new DOMException(`no answer within ${this.timeout} ms`, "TimeoutError");
    // Made now if no store has read it yet: one that reads it late must still see the abort.
    (this.#controller ??= sharedController()).abort(cause);
    for (const { operation, reject } of this.#pending) {
      const outcome = READS.has(operation) ? undefined : "unknown";
      reject(new SessionStoreError(`store.${operation}() did not answer within ${this.timeout} ms`, { cause, outcome }));
    }
    this.#pending.clear();
  }
}

/** Every call of a window may listen to its signal (node-redis does): more than Node's warning threshold of 10. */
function sharedController(): AbortController {
  const controller = new AbortController();
  if (!PER_REQUEST_IO) setMaxListeners(0, controller.signal);
  return controller;
}

/** Calls that write nothing: their failure has no unknown outcome. */
const READS = new Set(["get", "count", "listByOwner"]);

export function storeError(operation: string, error: unknown): SessionError {
  if (error instanceof SessionError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  // A write whose answer never came may have been applied: say so rather than imply it was not.
  const outcome = READS.has(operation) ? undefined : "unknown";
  return new SessionStoreError(`store.${operation}() failed: ${reason}`, { cause: error, outcome });
}

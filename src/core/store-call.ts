import { SessionError, SessionStoreError } from "./errors.js";
import type { Awaitable, StoreCallOptions } from "./store.js";

/**
 * Runs a store call under a time limit, turning driver failures into SessionStoreError. On
 * timeout the call's signal is aborted, so a store that honours it (node-redis) drops the
 * queued command instead of applying it after the app has already answered 5xx.
 * A store that answers synchronously (MemoryStore) skips the timer and the extra tick.
 */
export function callStore<R>(operation: string, timeout: number, run: (options: StoreCallOptions) => Awaitable<R>): Awaitable<R> {
  const outcome = READS.has(operation) ? undefined : "unknown";
  const controller = timeout === 0 ? undefined : new LazyAbort();
  let result: Awaitable<R>;
  try {
    result = run(controller ?? {});
  } catch (error) {
    throw storeError(operation, error);
  }
  if (!(result instanceof Promise)) return result;
  if (!controller) return result.catch((error: unknown) => Promise.reject(storeError(operation, error)));
  return new Promise<R>((resolve, reject) => {
    const timer = setTimeout(() => {
      const cause = new DOMException(`no answer within ${timeout} ms`, "TimeoutError");
      controller.abort(cause);
      reject(new SessionStoreError(`store.${operation}() did not answer within ${timeout} ms`, { cause, outcome }));
    }, timeout);
    result.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error: unknown) => (clearTimeout(timer), reject(storeError(operation, error))),
    );
  });
}

/** Store call options whose AbortController is made only if the store reads `signal` (it costs µs). */
class LazyAbort implements StoreCallOptions {
  #controller: AbortController | undefined;

  get signal(): AbortSignal {
    return (this.#controller ??= new AbortController()).signal;
  }

  abort(reason: unknown): void {
    this.#controller?.abort(reason);
  }
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


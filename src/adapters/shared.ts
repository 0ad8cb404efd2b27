/** Helpers the adapters share: not exported from the package. */
import type { IncomingMessage } from "node:http";

/**
 * A Response passed through from fetch() has immutable headers (Fetch standard, "immutable"
 * guard), and a delete on them throws even for an absent name; such a response is copied once
 * so the session headers can be added. Returns `response` itself when its headers can be changed.
 */
export function withMutableHeaders(response: Response): Response {
  try {
    response.headers.delete("x-sessionkit-probe");
    return response;
  } catch {
    return new Response(response.body, response);
  }
}

/**
 * Refuses, when the adapter is set up, anything that is not a SessionManager (a missing option,
 * the manager's class instead of an instance, a store passed by mistake): a TypeError naming
 * `caller`, instead of a failure on the first request. Probed by its methods, not instanceof, so
 * a manager from another copy of sessionkit in the bundle passes.
 */
export function checkManager(manager: unknown, caller: string): void {
  const candidate = manager as { loadRequest?: unknown; commitHeaders?: unknown } | null | undefined;
  if (typeof candidate?.loadRequest !== "function" || typeof candidate.commitHeaders !== "function") {
    throw new TypeError(`${caller} needs a SessionManager`);
  }
}

/** A thrown non-Error value as an Error, for APIs that take only Errors (res.destroy, a cause). */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * sessionkit/h3 on h3 1 commits through sessionkit/express's middleware, but decides "https" by
 * h3 1's rule, not Express's: this key of the middleware's options (not in its public type)
 * carries that rule.
 */
export const SECURE_OF = Symbol("sessionkit.secureOf");

export type SecureOf = (req: IncomingMessage) => boolean;

import type { DeviceSource } from "./session.js";

/** What happened to a session, for audit logs (option `onEvent`). */
export type SessionEventType = "created" | "signed-in" | "regenerated" | "destroyed" | "revoked" | "evicted" | "ambiguous-cookie" | "bound" | "binding-failed";

export interface SessionEvent {
  type: SessionEventType;
  /** The session's public handle (never its token); "" for "ambiguous-cookie", where none was loaded. */
  handle: string;
  userId?: string;
  at: Date;
}

export type SessionEventListener = (event: SessionEvent) => void;

/**
 * Calls the app's listener synchronously. A listener that throws must never break the request
 * that caused the event: its error is reported as a process warning instead.
 */
export function emitSafely(listener: SessionEventListener, event: SessionEvent): void {
  try {
    listener(event);
  } catch (error) {
    process.emitWarning(`sessionkit: the onEvent listener threw on "${event.type}": ${String(error)}`, "SessionkitWarning");
  }
}

const MAX_USER_ID_LENGTH = 256;
// Long enough for any browser's real User-Agent, short enough that a hostile one cannot bloat records.
const MAX_USER_AGENT_LENGTH = 256;

/** A user id is any non-empty string of at most 256 characters; anything else is API misuse. */
export function checkUserId(userId: unknown): string {
  if (typeof userId !== "string" || userId.length === 0 || userId.length > MAX_USER_ID_LENGTH) {
    throw new TypeError(`userId must be a non-empty string of at most ${MAX_USER_ID_LENGTH} characters`);
  }
  return userId;
}

/** User-Agent and client IP as the framework sees them (its trust-proxy setting decides `ip`). */
export function readDevice(source: DeviceSource | undefined): { userAgent: string | undefined; ip: string | undefined } {
  if (!source) return { userAgent: undefined, ip: undefined };
  const headers = source.headers;
  const raw = headers instanceof Headers ? headers.get("user-agent") : headers?.["user-agent"];
  const userAgent = typeof raw === "string" && raw.length > 0 ? raw.slice(0, MAX_USER_AGENT_LENGTH) : undefined;
  const ip = source.ip || source.socket?.remoteAddress || undefined;
  return { userAgent, ip };
}

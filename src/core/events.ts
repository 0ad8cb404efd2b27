import { emitWarning } from "./warnings.js";
import type { DeviceSource } from "./session.js";

/** What happened to a session, for audit logs (option `onEvent`). */
export type SessionEventType = "created" | "signed-in" | "regenerated" | "destroyed" | "revoked" | "evicted" | "expired" | "ambiguous-cookie" | "bound" | "binding-failed";

export interface SessionEvent {
  type: SessionEventType;
  /** The session's public handle (never its token); "" for "ambiguous-cookie" and gc's "expired", which name no session. */
  handle: string;
  userId?: string;
  at: Date;
  /**
   * "expired" from gc() only: how many expired records that run removed (stores report a number,
   * not which sessions); its handle is then "".
   */
  count?: number;
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
    emitWarning(`sessionkit: the onEvent listener threw on "${event.type}": ${String(error)}`);
  }
}

const MAX_USER_ID_LENGTH = 256;
// Long enough for any browser's real User-Agent, short enough that a hostile one cannot bloat records.
const MAX_USER_AGENT_LENGTH = 256;
// The longest IPv6 text form with an interface zone ("fe80::…%eth0") fits well within this.
const MAX_IP_LENGTH = 64;

/** A user id is any non-empty string of at most 256 characters; anything else is API misuse. */
export function checkUserId(userId: unknown): string {
  if (typeof userId !== "string" || userId.length === 0 || userId.length > MAX_USER_ID_LENGTH) {
    throw new TypeError(`userId must be a non-empty string of at most ${MAX_USER_ID_LENGTH} characters`);
  }
  return userId;
}

// C0 controls, DEL and C1 controls (0x9B is a one-byte CSI): terminal escapes once printed.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * User-Agent and client IP as the framework sees them (its trust-proxy setting decides `ip`),
 * checked before they are stored: the IP is kept only if it is an IPv4 or IPv6 address (with
 * `trust proxy` on, X-Forwarded-For is whatever the client sent), and the User-Agent is cut to
 * 256 characters with its control characters replaced by U+FFFD.
 */
export function readDevice(source: DeviceSource | undefined): { userAgent: string | undefined; ip: string | undefined } {
  if (!source) return { userAgent: undefined, ip: undefined };
  const headers = source.headers;
  const raw = headers instanceof Headers ? headers.get("user-agent") : headers?.["user-agent"];
  const userAgent = typeof raw === "string" && raw.length > 0 ? raw.slice(0, MAX_USER_AGENT_LENGTH).replace(CONTROL, "\ufffd") : undefined;
  const address = source.ip || source.socket?.remoteAddress;
  const ip = typeof address === "string" && address.length <= MAX_IP_LENGTH && isIpAddress(address) ? address : undefined;
  return { userAgent, ip };
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Dotted IPv4, or IPv6 (with an optional %zone) as WHATWG URL parses it: no node:net, so edge runtimes need nothing more. */
function isIpAddress(text: string): boolean {
  if (IPV4.test(text)) return true;
  const [bare = "", zone, ...rest] = text.split("%");
  if (rest.length > 0 || (zone !== undefined && !/^[\w.-]{1,16}$/.test(zone))) return false;
  if (!bare.includes(":") || !/^[0-9A-Fa-f:.]+$/.test(bare)) return false;
  return URL.canParse(`http://[${bare}]/`);
}

/**
 * The DBSC header fields (W3C WebAppSec "Device Bound Session Credentials", section 9) as pure
 * string functions: Structured Field strings (RFC 9651 section 3.3.3) in and out, no requests.
 */

/** Response header offering registration: `(ES256 RS256);path="...";challenge="..."` (spec 9.1). */
export const REGISTRATION_HEADER = "secure-session-registration";
/** Response header carrying a refresh challenge for one session (spec 9.2). */
export const CHALLENGE_HEADER = "secure-session-challenge";
/** Request header: the browser's signed proof, an sf-string holding a JWT (spec 9.3). */
export const RESPONSE_HEADERS = ["secure-session-response", "sec-session-response"] as const;
/** Request header naming the session a refresh is for (spec 9.4). */
export const SESSION_ID_HEADERS = ["sec-secure-session-id", "sec-session-id"] as const;

/**
 * The value of an sf-string header, parameters ignored (spec 9.3/9.4: "Any parameters SHOULD be
 * ignored"). A bare token is accepted too, as some builds sent the JWT unquoted. Undefined for
 * anything malformed: a bad header reads as "no header", never as an exception.
 */
export function parseSfString(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (text[0] !== '"') {
    const end = text.indexOf(";");
    const bare = end === -1 ? text : text.slice(0, end);
    return /^[A-Za-z0-9._~+/=-]+$/.test(bare) ? bare : undefined;
  }
  let out = "";
  for (let i = 1; i < text.length; i++) {
    const char = text[i]!;
    if (char === "\\") {
      const next = text[++i];
      if (next !== '"' && next !== "\\") return undefined; // RFC 9651 section 4.2.5: only these escape
      out += next;
    } else if (char === '"') {
      return out;
    } else {
      const code = char.charCodeAt(0);
      if (code < 0x20 || code > 0x7e) return undefined;
      out += char;
    }
  }
  return undefined; // no closing quote
}

/** An sf-string; values here are paths and base64url text, so an unprintable one is a bug. */
export function sfString(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) throw new TypeError(`not a Structured Field string: ${JSON.stringify(value)}`);
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function registrationHeaderValue(algorithms: readonly string[], path: string, challenge: string): string {
  return `(${algorithms.join(" ")});path=${sfString(path)};challenge=${sfString(challenge)}`;
}

export function challengeHeaderValue(challenge: string, sessionId: string): string {
  return `${sfString(challenge)};id=${sfString(sessionId)}`;
}

/** JSON session instructions (spec "JSON Session Instruction Format"). */
export interface SessionInstructions {
  session_identifier: string;
  refresh_url?: string;
  continue?: boolean;
  scope?: { include_site: boolean; origin?: string };
  credentials?: { type: "cookie"; name: string; attributes: string }[];
}

export function sessionInstructions(sessionId: string, refreshUrl: string, cookieName: string, cookieAttributes: string): SessionInstructions {
  return {
    session_identifier: sessionId,
    refresh_url: refreshUrl,
    // Origin-scoped: the bound cookie is host-only, so the session covers what the cookie covers.
    scope: { include_site: false },
    credentials: [{ type: "cookie", name: cookieName, attributes: cookieAttributes }],
  };
}

/** Ends the browser's session (`continue: false`): the server has no bound session of that id. */
export function endInstructions(sessionId: string): SessionInstructions {
  return { session_identifier: sessionId, continue: false };
}

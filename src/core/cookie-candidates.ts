/**
 * Which of several cookies of one name to load. A browser sends every cookie whose domain and
 * path match, most specific path first (RFC 6265bis section 5.8.3), and nothing in the Cookie
 * header says which host set which: a sibling subdomain can plant `sid=x; Domain=.example.com;
 * Path=/app` next to the user's own `sid`. The rule (docs/security.md, "Duplicate session cookies"):
 *
 * - one value (or the same value repeated): it is the candidate, as before — one store read;
 * - several values: each is verified the way a load verifies it (format, signature, the store,
 *   the cookie seal); values that do not verify are junk and ignored, so a planted `sid=x`
 *   neither signs the user out nor gets a fresh session's Set-Cookie over the user's cookie;
 * - two or more that verify: neither is loaded (a stranger's real session would sign the user in
 *   as the stranger: login CSRF), and the caller reports "ambiguous-cookie";
 * - more than MAX_CANDIDATES values: refused the same way without verifying any, so one request
 *   cannot make the manager read the store more than MAX_CANDIDATES times.
 *
 * Extra verification happens only when a request carries two or more values, which is rare;
 * malformed and badly signed values cost no store read at all.
 */
import type { Awaitable } from "./store.js";

export const MAX_CANDIDATES = 8;

/**
 * The distinct non-empty values of cookie `name` in a Cookie header, in header order: undefined
 * for none, the value itself for one (the common case, no array), an array for two or more.
 * The `cookie` package keeps the first value only and cannot report duplicates, hence this scan.
 * `decode` percent-decodes as the `cookie` package does (express-session's `s%3A…` values);
 * session values are base64url and dots, and are compared as sent.
 */
export function readCookieCandidates(header: string | undefined | null, name: string, decode = false): string | string[] | undefined {
  if (!header || !header.includes(name)) return undefined;
  let first: string | undefined;
  let more: string[] | undefined;
  for (let start = 0; start < header.length; ) {
    let end = header.indexOf(";", start);
    if (end === -1) end = header.length;
    const raw = pairValue(header, start, end, name);
    // An empty value carries no session, so it cannot be a stranger's: it is not a duplicate.
    if (raw) {
      const value = decode ? decodeValue(raw) : raw;
      if (first === undefined) first = value;
      else if (value !== first && !more?.includes(value)) (more ??= [first]).push(value);
    }
    start = end + 1;
  }
  return more ?? first;
}

/**
 * The one candidate that verifies, or null. `verify` returns what the value loads (a session,
 * or the value itself), or null for junk; two or more verified ones call `onAmbiguous` and give
 * null. Candidates are verified one after the other, stopping at the second that verifies.
 */
export function verifiedCandidate<S>(values: readonly string[], verify: (value: string) => Awaitable<S | null>, onAmbiguous: () => void): Awaitable<S | null> {
  if (values.length > MAX_CANDIDATES) {
    onAmbiguous();
    return null;
  }
  const next = (index: number, found: S | null): Awaitable<S | null> => {
    for (let i = index; i < values.length; i++) {
      const result = verify(values[i]!);
      if (result instanceof Promise) return result.then((loaded) => settleOne(loaded, i, found));
      if (result !== null) {
        if (found !== null) return ambiguous();
        found = result;
      }
    }
    return found;
  };
  const settleOne = (loaded: S | null, i: number, found: S | null): Awaitable<S | null> => {
    if (loaded === null) return next(i + 1, found);
    return found !== null ? ambiguous() : next(i + 1, loaded);
  };
  const ambiguous = (): null => {
    onAmbiguous();
    return null;
  };
  return next(0, null);
}

/** The value of the `name=value` pair in header[start, end), or undefined for another name. */
function pairValue(header: string, start: number, end: number, name: string): string | undefined {
  let at = start;
  while (at < end && isWhitespace(header.charCodeAt(at))) at++;
  if (!header.startsWith(name, at)) return undefined;
  at += name.length;
  while (at < end && isWhitespace(header.charCodeAt(at))) at++;
  if (header.charCodeAt(at) !== 0x3d /* = */ || at >= end) return undefined;
  return header.slice(at + 1, end).trim();
}

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

function decodeValue(value: string): string {
  if (!value.includes("%")) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

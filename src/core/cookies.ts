/**
 * Pure cookie-string rules for the session cookie: no request objects here.
 * Parsing and serialization are the `cookie` package's; this file adds the
 * session-specific rules of RFC 6265bis and validates them once, at construction.
 */
import { parse, serialize } from "cookie";

export interface CookieOptions {
  /**
   * Cookie name. Default "__Host-sid" when `secure` is true, `path` "/" and no `domain` (RFC 6265bis
   * section 4.1.3.2: a sibling subdomain can neither set nor shadow it); otherwise "sid". Short,
   * and reveals nothing about the stack (OWASP Session Management).
   */
  name?: string;
  /** Default "/": the session usually covers the whole site. */
  path?: string;
  /** Default undefined: a host-only cookie, not sent to sibling subdomains. */
  domain?: string;
  /** Default "auto": Secure when the request arrived over TLS. `true` always; `false` never. */
  secure?: boolean | "auto";
  /** Default true: page scripts (and XSS) cannot read the session token. */
  httpOnly?: boolean;
  /** Default "lax": blocks cross-site subrequests (CSRF) yet keeps top-level navigation logged in. */
  sameSite?: "lax" | "strict" | "none" | false;
  /** Default false: CHIPS partitioned cookie, for sessions inside third-party iframes. Needs Secure. */
  partitioned?: boolean;
  /** Default true: Max-Age follows the session expiry. false: a browser-session cookie (no Max-Age). */
  persistent?: boolean;
}

export interface ResolvedCookieOptions {
  /** The attributes after Max-Age, serialized once by the `cookie` package: [not Secure, Secure]. */
  attributes: readonly [string, string];
  name: string;
  path: string;
  domain: string | undefined;
  secure: boolean | "auto";
  httpOnly: boolean;
  sameSite: "lax" | "strict" | "none" | false;
  partitioned: boolean;
  persistent: boolean;
}

// RFC 6265 section 4.1.1: a cookie-name is an HTTP token.
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const COOKIE_VALUE = /^[A-Za-z0-9_.-]*$/;

export function resolveCookieOptions(options: CookieOptions = {}): ResolvedCookieOptions {
  const resolved: ResolvedCookieOptions = {
    attributes: ["", ""],
    name: options.name ?? defaultName(options),
    path: options.path ?? "/",
    domain: options.domain,
    secure: options.secure ?? "auto",
    httpOnly: options.httpOnly ?? true,
    sameSite: options.sameSite ?? "lax",
    partitioned: options.partitioned ?? false,
    persistent: options.persistent ?? true,
  };
  checkCookieOptions(resolved);
  // Serialized (and validated) once here, so a request pays only for `name=value; Max-Age=n`.
  resolved.attributes = [attributesOf(resolved, false), attributesOf(resolved, true)];
  return resolved;
}

function defaultName(options: CookieOptions): string {
  const hostOnlyRoot = (options.path ?? "/") === "/" && options.domain === undefined;
  return options.secure === true && hostOnlyRoot ? "__Host-sid" : "sid";
}

function attributesOf(c: ResolvedCookieOptions, secure: boolean): string {
  const line = serialize(c.name, "", {
    path: c.path,
    domain: c.domain,
    httpOnly: c.httpOnly,
    secure,
    sameSite: c.sameSite,
    partitioned: c.partitioned,
  });
  return line.slice(c.name.length + 1); // "; Domain=…; Path=/; HttpOnly; …"
}

function checkCookieOptions(c: ResolvedCookieOptions): void {
  if (!COOKIE_NAME.test(c.name)) {
    throw new TypeError(`option "cookie.name" must be an HTTP token (letters, digits, !#$%&'*+-.^_\`|~); got ${JSON.stringify(c.name)}`);
  }
  if (!c.path.startsWith("/")) throw new TypeError(`option "cookie.path" must start with "/"; got ${JSON.stringify(c.path)}`);
  if (!["lax", "strict", "none", false].includes(c.sameSite)) {
    throw new TypeError(`option "cookie.sameSite" must be "lax", "strict", "none" or false; got ${JSON.stringify(c.sameSite)}`);
  }
  if (![true, false, "auto"].includes(c.secure)) {
    throw new TypeError(`option "cookie.secure" must be true, false or "auto"; got ${JSON.stringify(c.secure)}`);
  }
  // RFC 6265bis section 4.1.3.2: a __Host- cookie must be Secure, have Path=/ and no Domain.
  if (c.name.startsWith("__Host-") && (c.secure !== true || c.path !== "/" || c.domain !== undefined)) {
    throw new TypeError(`cookie "${c.name}": a __Host- cookie needs cookie.secure: true, cookie.path: "/" and no cookie.domain`);
  }
  // RFC 6265bis section 4.1.3.1: a __Secure- cookie must be Secure.
  if (c.name.startsWith("__Secure-") && c.secure !== true) {
    throw new TypeError(`cookie "${c.name}": a __Secure- cookie needs cookie.secure: true`);
  }
  // Browsers reject SameSite=None and Partitioned cookies without Secure (RFC 6265bis section 5.6.7; CHIPS).
  if ((c.sameSite === "none" || c.partitioned) && c.secure === false) {
    throw new TypeError(`cookie "${c.name}": sameSite "none" and partitioned need cookie.secure true or "auto"`);
  }
}

/** The value of cookie `name` in a Cookie request header, or undefined. */
export function readCookie(header: string | undefined | null, name: string): string | undefined {
  if (!header || !header.includes(name)) return undefined;
  return parse(header)[name];
}

/**
 * The Set-Cookie value for the session. `maxAgeSeconds` undefined gives a browser-session cookie;
 * `secure` is the resolved flag for this request ("auto" already decided by the caller).
 */
export function serializeSessionCookie(
  c: ResolvedCookieOptions,
  value: string,
  maxAgeSeconds: number | undefined,
  secure: boolean,
): string {
  // Only base64url tokens, "." and sealed base64url reach here: no encoding needed (RFC 6265 cookie-octet).
  if (!COOKIE_VALUE.test(value)) throw new TypeError("session cookie value must be base64url characters and dots");
  const maxAge = maxAgeSeconds === undefined ? "" : `; Max-Age=${Math.floor(maxAgeSeconds)}`;
  return `${c.name}=${value}${maxAge}${c.attributes[secure ? 1 : 0]}`;
}

/** A Set-Cookie value that removes the session cookie (Max-Age=0, plus Expires for old clients). */
export function serializeExpiredCookie(c: ResolvedCookieOptions, secure: boolean): string {
  return serialize(c.name, "", {
    path: c.path,
    domain: c.domain,
    maxAge: 0,
    expires: new Date(0),
    httpOnly: c.httpOnly,
    secure,
    sameSite: c.sameSite,
    partitioned: c.partitioned,
  });
}

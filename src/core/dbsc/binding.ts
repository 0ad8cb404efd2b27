/**
 * A session's device binding: what registration stores in the session record (inside the
 * signed-in user's metadata, see envelope.ts) and what the load path checks on each request.
 */
import { readCookie } from "../cookies.js";
import { randomBytesPooled } from "../random.js";
import type { SessionInternals } from "../session.js";
import { INTERNALS } from "../session.js";
import type { AnyStore, Awaitable } from "../store.js";
import { isClientSideStore } from "../store.js";
import type { DbscAlgorithm, PublicJwk } from "./jwt.js";
import type { ResolvedDbsc } from "./options.js";
import { boundCookieValid, boundCookieValue, issueChallenge, registrationKey } from "./tokens.js";
import { registrationHeaderValue } from "./headers.js";

/** As stored (short keys: it sits in every record of a bound session). */
export interface Binding {
  /** The DBSC session identifier (`session_identifier`), random: not the session's handle. */
  i: string;
  a: DbscAlgorithm;
  /** The device's public key. */
  k: PublicJwk;
  /** base64url of 32 random bytes: the MAC key of this binding's challenges and bound cookies. */
  s: string;
}

export function newBinding(alg: DbscAlgorithm, jwk: PublicJwk): Binding {
  return { i: randomBytesPooled(16).toString("base64url"), a: alg, k: jwk, s: randomBytesPooled(32).toString("base64url") };
}

const B64URL = /^[A-Za-z0-9_-]+$/;
const P256_COORDINATE = /^[A-Za-z0-9_-]{43}$/; // 32 bytes, unpadded base64url (RFC 7518 section 6.2.1.2)

/**
 * A stored binding, or undefined when the value is not one (the caller then refuses the record:
 * see decodeMeta). Shape only, no key import: this runs on every load of a bound session, and
 * the key is imported, and so fully checked, where it is used (refresh, jwt.ts).
 */
export function readBinding(value: unknown): Binding | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const { i, a, k, s } = value as Partial<Binding>;
  if (typeof i !== "string" || typeof s !== "string" || !B64URL.test(s) || !k || typeof k !== "object") return undefined;
  const key = k as unknown as Record<string, unknown>;
  if (a === "ES256") {
    const { x, y } = key;
    if (key.kty !== "EC" || key.crv !== "P-256" || typeof x !== "string" || typeof y !== "string" || !P256_COORDINATE.test(x) || !P256_COORDINATE.test(y)) return undefined;
    return { i, a, k: { kty: "EC", crv: "P-256", x, y }, s };
  }
  if (a === "RS256") {
    const { n, e } = key;
    // 342 base64url characters hold the 2048-bit minimum modulus.
    if (key.kty !== "RSA" || typeof n !== "string" || typeof e !== "string" || n.length < 342 || !B64URL.test(n) || !B64URL.test(e)) return undefined;
    return { i, a, k: { kty: "RSA", n, e }, s };
  }
  return undefined;
}

export function bindingKey(binding: Binding): Buffer {
  return Buffer.from(binding.s, "base64url");
}

/** A bound session loads only with its valid bound cookie; `fail` gets the ones that do not. */
export function admitBound<S extends { readonly [INTERNALS]: SessionInternals }>(
  found: Awaitable<S | null>,
  dbsc: ResolvedDbsc,
  cookieHeader: string | undefined,
  now: number,
  fail: (session: S) => void,
): Awaitable<S | null> {
  if (found instanceof Promise) return found.then((session) => admitBound(session, dbsc, cookieHeader, now, fail));
  const binding = found?.[INTERNALS].user?.binding;
  if (!found || !binding) return found;
  if (boundCookieValid(bindingKey(binding), binding.i, readCookie(cookieHeader, dbsc.cookieName), now)) return found;
  fail(found);
  return null;
}

/** Bindings and used challenges live in the store: cookie sessions (a ClientSideStore) cannot hold them. */
export function checkDbscStore(dbsc: ResolvedDbsc | undefined, store: AnyStore): void {
  if (dbsc && isClientSideStore(store)) throw new TypeError('option "dbsc" needs a server-side store: bindings and used challenges live there');
}

/** The Secure-Session-Registration value offered with a sign-in, its challenge keyed by the new token. */
export function registrationOffer(dbsc: ResolvedDbsc, token: string, now: number): string {
  const challenge = issueChallenge(registrationKey(token), "register", "", now + dbsc.challengeLifetime);
  return registrationHeaderValue(dbsc.algorithms, dbsc.registrationPath, challenge);
}

/** The bound cookie's attributes, also sent in the session instructions ("SHOULD be equivalent"). */
export function boundCookieAttributes(secure: boolean): string {
  return `Path=/; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`;
}

export function boundSetCookie(dbsc: ResolvedDbsc, binding: Binding, now: number, secure: boolean): string {
  const value = boundCookieValue(bindingKey(binding), binding.i, now + dbsc.cookieMaxAge);
  return `${dbsc.cookieName}=${value}; Max-Age=${Math.round(dbsc.cookieMaxAge / 1000)}; ${boundCookieAttributes(secure)}`;
}

export function expiredBoundCookie(dbsc: ResolvedDbsc, secure: boolean): string {
  return `${dbsc.cookieName}=; Max-Age=0; ${boundCookieAttributes(secure)}`;
}

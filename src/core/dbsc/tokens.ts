/**
 * The server's own DBSC values, stateless and authenticated by HMAC-SHA256 (node:crypto):
 * - a challenge `exp.nonce.mac`: bounded lifetime by `exp`, bound to one purpose and one
 *   session by the MAC key and subject; single use is enforced apart (see handler.ts);
 * - a bound-cookie value `exp.mac`: the short-lived credential the load path checks without I/O.
 * A refresh key is the binding's random secret, kept only in the server-side record, so a copy
 * of the browser's cookies can forge neither.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { randomBytesPooled } from "../random.js";

const MAC_BYTES = 16; // 128-bit tags: forging one is as hard as guessing a session token

function mac(key: Buffer, purpose: string, subject: string, exp: string, nonce: string): Buffer {
  return createHmac("sha256", key).update(`${purpose}\0${subject}\0${exp}\0${nonce}`).digest().subarray(0, MAC_BYTES);
}

export function issueChallenge(key: Buffer, purpose: string, subject: string, expiresAt: number): string {
  const exp = expiresAt.toString(36);
  const nonce = randomBytesPooled(12).toString("base64url");
  return `${exp}.${nonce}.${mac(key, purpose, subject, exp, nonce).toString("base64url")}`;
}

/** The challenge's expiry when it is ours, for this purpose and subject, and not expired at `now`; else null. */
export function openChallenge(key: Buffer, purpose: string, subject: string, challenge: unknown, now: number): number | null {
  if (typeof challenge !== "string" || challenge.length > 128) return null;
  const [exp, nonce, tag, extra] = challenge.split(".");
  if (exp === undefined || nonce === undefined || tag === undefined || extra !== undefined) return null;
  return checked(key, purpose, subject, exp, nonce, tag, now);
}

export function boundCookieValue(key: Buffer, subject: string, expiresAt: number): string {
  const exp = expiresAt.toString(36);
  return `${exp}.${mac(key, "cookie", subject, exp, "").toString("base64url")}`;
}

/** True when `value` is a bound cookie of this binding that has not expired at `now`. */
export function boundCookieValid(key: Buffer, subject: string, value: string | undefined, now: number): boolean {
  if (value === undefined || value.length > 64) return false;
  const dot = value.indexOf(".");
  if (dot < 1) return false;
  return checked(key, "cookie", subject, value.slice(0, dot), "", value.slice(dot + 1), now) !== null;
}

function checked(key: Buffer, purpose: string, subject: string, exp: string, nonce: string, tag: string, now: number): number | null {
  const expiresAt = parseInt(exp, 36);
  if (!/^[0-9a-z]{1,11}$/.test(exp) || !(expiresAt > now)) return null;
  const given = Buffer.from(tag, "base64url");
  if (given.length !== MAC_BYTES || !timingSafeEqual(given, mac(key, purpose, subject, exp, nonce))) return null;
  return expiresAt;
}

/** The registration MAC key: derived from the session token, which only its holder and the server know. */
export function registrationKey(token: string): Buffer {
  return createHash("sha256").update(`sessionkit/dbsc-registration\0${token}`).digest();
}

/** The store key that marks a challenge as used: 27 characters of [A-Za-z0-9_-], which every store accepts (FileStore names files by it) and no 43-character session key can equal. */
export function usedChallengeKey(challenge: string): string {
  return `dbsc-${createHash("sha256").update(challenge).digest("base64url").slice(0, 22)}`;
}

import * as crypto from "node:crypto";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { randomBytesPooled } from "./random.js";

// crypto.hash (Node 20.12+) skips the Hash object: about twice as fast for one short input.
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: "base64url") => string }).hash;

/**
 * Session tokens: 32 bytes (256 bits) from the OS CSPRNG, base64url without padding.
 * OWASP asks for at least 64 bits of entropy; 256 makes guessing and collisions moot.
 */
const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const SIGNATURE_LENGTH = 43; // base64url of a 32-byte HMAC-SHA256

export function generateToken(): string {
  return randomBytesPooled(TOKEN_BYTES).toString("base64url");
}

/** True when `value` has the exact shape of a token we issued; checked before any store call. */
export function isWellFormedToken(value: string): boolean {
  return value.length === 43 && TOKEN_PATTERN.test(value);
}

/** The key a store sees: SHA-256 of the token, so a leaked store dump holds no usable token. */
export function hashToken(token: string): string {
  return oneShotHash ? oneShotHash("sha256", token, "base64url") : createHash("sha256").update(token).digest("base64url");
}

function hmac(secret: string, token: string): string {
  return createHmac("sha256", secret).update(token).digest("base64url");
}

/** `token.signature`, signed with the newest secret. */
export function signToken(token: string, secrets: readonly string[]): string {
  return `${token}.${hmac(secrets[0]!, token)}`;
}

export interface VerifiedToken {
  token: string;
  /** Signed with an older secret: re-sign with the newest at the next commit. */
  stale: boolean;
}

/** Verifies `token.signature` against every secret in constant time; null when none matches. */
export function verifySignedToken(value: string, secrets: readonly string[]): VerifiedToken | null {
  const dot = value.indexOf(".");
  if (dot !== 43 || value.length !== 44 + SIGNATURE_LENGTH) return null;
  const token = value.slice(0, dot);
  if (!isWellFormedToken(token)) return null;
  const given = Buffer.from(value.slice(dot + 1));
  for (let i = 0; i < secrets.length; i++) {
    const expected = Buffer.from(hmac(secrets[i]!, token));
    if (expected.length === given.length && timingSafeEqual(expected, given)) return { token, stale: i > 0 };
  }
  return null;
}

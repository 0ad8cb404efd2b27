/**
 * DBSC proofs: compact JWS (RFC 7515) signed ES256 or RS256 (RFC 7518 section 3), checked with
 * node:crypto only. A proof that is malformed, too large, of another type or algorithm, or whose
 * signature fails is `null`: bad input from the network is never an exception.
 */
import type { JsonWebKey, KeyObject } from "node:crypto";
import { createPublicKey, verify } from "node:crypto";

export type DbscAlgorithm = "ES256" | "RS256";
export const DBSC_ALGORITHMS: readonly DbscAlgorithm[] = ["ES256", "RS256"];

/** A public key as stored: only the public members, so a stray private `d` is never kept. */
export type PublicJwk = { kty: "EC"; crv: "P-256"; x: string; y: string } | { kty: "RSA"; n: string; e: string };

export interface Proof {
  alg: DbscAlgorithm;
  payload: Record<string, unknown>;
  /** The key the proof carries (registration): payload `key` (current draft) or header `jwk` (older Chromium builds). */
  jwk: PublicJwk | undefined;
  signingInput: string;
  signature: Buffer;
}

// A P-256 JWK and a 4096-bit RSA JWK fit well within this; anything larger is not a browser's proof.
const MAX_PROOF_LENGTH = 8192;
// NIST SP 800-131A: RSA keys under 2048 bits are disallowed for signatures.
const MIN_RSA_BITS = 2048;

/** Splits and decodes a proof; the signature is not checked yet (see verifyProof). */
export function parseProof(jwt: string, algorithms: readonly DbscAlgorithm[]): Proof | null {
  if (jwt.length > MAX_PROOF_LENGTH) return null;
  const parts = jwt.split(".");
  if (parts.length !== 3) return null;
  const header = decodeJson(parts[0]!);
  const payload = decodeJson(parts[1]!);
  if (!header || !payload) return null;
  // The spec requires typ "dbsc+jwt": a JWT minted for another protocol is not a DBSC proof (RFC 8725 section 3.11).
  if (header.typ !== "dbsc+jwt") return null;
  const alg = header.alg;
  if (typeof alg !== "string" || !(algorithms as readonly string[]).includes(alg)) return null;
  const signature = Buffer.from(parts[2]!, "base64url");
  const rawKey = payload.key ?? header.jwk;
  const jwk = rawKey === undefined ? undefined : publicJwk(rawKey, alg as DbscAlgorithm);
  if (jwk === null) return null;
  return { alg: alg as DbscAlgorithm, payload, jwk, signingInput: `${parts[0]}.${parts[1]}`, signature };
}

/** True when `proof` is signed by `jwk` with the algorithm the key is bound to. */
export function verifyProof(proof: Proof, jwk: PublicJwk, alg: DbscAlgorithm): boolean {
  if (proof.alg !== alg) return false; // no algorithm switching on a stored key (RFC 8725 section 3.1)
  const key = importKey(jwk);
  if (!key) return false;
  try {
    if (alg === "ES256") {
      // JWS carries ECDSA signatures as r||s, 64 bytes for P-256 (RFC 7518 section 3.4).
      if (proof.signature.length !== 64) return false;
      return verify("sha256", Buffer.from(proof.signingInput), { key, dsaEncoding: "ieee-p1363" }, proof.signature);
    }
    return verify("sha256", Buffer.from(proof.signingInput), key, proof.signature);
  } catch {
    return false;
  }
}

/** The public members of a JWK that fits `alg`, or null (wrong type, curve, or a weak RSA key). */
export function publicJwk(raw: unknown, alg: DbscAlgorithm): PublicJwk | null {
  if (raw === null || typeof raw !== "object") return null;
  const jwk = raw as Record<string, unknown>;
  let candidate: PublicJwk;
  if (alg === "ES256") {
    if (jwk.kty !== "EC" || jwk.crv !== "P-256" || typeof jwk.x !== "string" || typeof jwk.y !== "string") return null;
    candidate = { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y };
  } else {
    if (jwk.kty !== "RSA" || typeof jwk.n !== "string" || typeof jwk.e !== "string") return null;
    candidate = { kty: "RSA", n: jwk.n, e: jwk.e };
  }
  const key = importKey(candidate);
  if (!key) return null;
  if (alg === "RS256" && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) return null;
  return candidate;
}

function importKey(jwk: PublicJwk): KeyObject | null {
  try {
    return createPublicKey({ key: jwk as JsonWebKey, format: "jwk" });
  } catch {
    return null; // not a point on the curve, bad base64url, ...
  }
}

function decodeJson(part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

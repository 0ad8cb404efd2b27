/**
 * The whole session inside the cookie, encrypted and authenticated (AES-256-GCM): no server
 * state, so nothing to share between processes, but also no server-side revocation, and a 4 KB cap.
 *
 * Sealed value, base64url (RFC 4648 section 5) of:
 *   version (1 byte) | key id (4 bytes) | IV (12 bytes, random) | ciphertext | GCM tag (16 bytes)
 * The plaintext is expiresAt (float64, big-endian) followed by the payload, so the expiry is
 * authenticated: a cookie replayed after it loads nothing, whatever Max-Age the browser was given.
 * The version byte and key id are the AAD, so they cannot be swapped either.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";
import { SessionUnsupportedError } from "../core/errors.js";
import type { ClientSideStore, OpenedCookie } from "../core/store.js";

export interface CookieStoreOptions {
  /**
   * Required: [newest, ...older], each at least 32 characters. The first seals; all open, so a
   * secret can be rotated without logging anyone out (cookies opened with an older one are re-sealed).
   */
  secrets: readonly string[];
}

const FORMAT_VERSION = 1;
// Domain separation (RFC 5869 section 3.2): the same secret used elsewhere yields unrelated keys.
const HKDF_INFO = "sessionkit cookie v1";
const MIN_SECRET_LENGTH = 32;
const KEY_ID_BYTES = 4;
const IV_BYTES = 12; // NIST SP 800-38D section 8.2: 96-bit random IVs for GCM
const TAG_BYTES = 16;
const EXPIRY_BYTES = 8;
const HEADER_BYTES = 1 + KEY_ID_BYTES;
const MIN_SEALED_BYTES = HEADER_BYTES + IV_BYTES + EXPIRY_BYTES + TAG_BYTES;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

interface DerivedKey {
  key: Buffer;
  id: Buffer;
}

export class CookieStore implements ClientSideStore {
  readonly clientSide = true as const;
  readonly #keys: DerivedKey[];

  constructor(options: CookieStoreOptions) {
    this.#keys = checkSecrets(options?.secrets).map(deriveKey);
  }

  seal(payload: string, expiresAt: number): string {
    const { key, id } = this.#keys[0]!;
    const header = Buffer.from([FORMAT_VERSION, ...id]);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(header);
    const expiry = Buffer.alloc(EXPIRY_BYTES);
    expiry.writeDoubleBE(expiresAt);
    const ciphertext = Buffer.concat([cipher.update(expiry), cipher.update(payload, "utf8"), cipher.final()]);
    return Buffer.concat([header, iv, ciphertext, cipher.getAuthTag()]).toString("base64url");
  }

  open(value: string, now: number): OpenedCookie | null {
    const sealed = decodeStrict(value);
    if (!sealed || sealed.length < MIN_SEALED_BYTES || sealed[0] !== FORMAT_VERSION) return null;
    const id = sealed.subarray(1, HEADER_BYTES);
    for (let index = 0; index < this.#keys.length; index++) {
      const candidate = this.#keys[index]!;
      if (!candidate.id.equals(id)) continue; // the key id picks the key; no trial decryption
      const plaintext = decrypt(candidate.key, sealed);
      if (!plaintext) continue;
      const expiresAt = plaintext.readDoubleBE(0);
      if (!(expiresAt > now)) return null;
      return { payload: plaintext.toString("utf8", EXPIRY_BYTES), expiresAt, stale: index > 0 };
    }
    return null;
  }

  /** Always throws: the sessions live in the browsers, the server keeps no list to count. */
  count(): never {
    throw new SessionUnsupportedError("CookieStore cannot count sessions: they live in the clients' cookies, the server keeps no list of them");
  }

  /** Always throws: an expired cookie is refused on sight (its expiry is sealed inside), so there is nothing to collect. */
  gc(): never {
    throw new SessionUnsupportedError("CookieStore has nothing to garbage-collect: expired cookies are refused when opened, and the server stores nothing");
  }
}

function checkSecrets(secrets: readonly string[] | undefined): readonly string[] {
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new TypeError('CookieStore: option "secrets" must be a non-empty array of strings: [newest, ...older]');
  }
  for (const secret of secrets) {
    if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH) {
      throw new TypeError(`CookieStore: option "secrets": every secret must be a string of at least ${MIN_SECRET_LENGTH} characters`);
    }
  }
  return secrets;
}

function deriveKey(secret: string): DerivedKey {
  const key = Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), HKDF_INFO, 32));
  // A hash of the derived key reveals nothing usable about it (SHA-256 preimage resistance).
  const id = createHash("sha256").update(key).digest().subarray(0, KEY_ID_BYTES);
  return { key, id };
}

/** Node's base64url decoder skips bad characters and ignores spare bits; only the canonical form is accepted. */
function decodeStrict(value: string): Buffer | null {
  if (typeof value !== "string" || !BASE64URL.test(value)) return null;
  const bytes = Buffer.from(value, "base64url");
  return bytes.toString("base64url") === value ? bytes : null;
}

function decrypt(key: Buffer, sealed: Buffer): Buffer | null {
  const iv = sealed.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES);
  const ciphertext = sealed.subarray(HEADER_BYTES + IV_BYTES, sealed.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(sealed.subarray(0, HEADER_BYTES));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    return null; // authentication failed: tampered, truncated or another key
  }
}

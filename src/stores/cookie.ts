/**
 * The whole session inside the cookie, encrypted and authenticated (AES-256-GCM): no server
 * state, so nothing to share between processes, but also no server-side revocation, and a 4 KB cap.
 *
 * Sealed value (format 3), base64url (RFC 4648 section 5) of:
 *   version 0x03 (1 byte) | key id (4 bytes) | salt (16 random bytes) | ciphertext | GCM tag (16 bytes)
 * Each cookie has its own AES key and IV: the first 44 bytes of AES-256 in counter mode under the
 * secret's key-generating key, the counter starting at the salt (AES as a PRF, as NIST SP 800-90A's
 * CTR_DRBG and RFC 8452's per-nonce keys use it). A random 96-bit IV under one key is safe for
 * only 2^32 messages (NIST SP 800-38D section 8.3), which a large site re-sealing on every touch
 * can reach; with a fresh key per cookie there is no such count, only the chance that two cookies
 * share a derived block: at most 14·n²/2^129 for n cookies per secret, under 2^-32 up to about
 * 2^46.6 cookies (docs/stores/cookie.md, "Format"). One AES call instead of an HKDF: a third of the CPU.
 * The plaintext is expiresAt (float64, big-endian) followed by the payload, so the expiry is
 * authenticated. The AAD is the header and salt plus the purpose and the cookie name, so a cookie
 * sealed for one cookie (or app, by purpose) does not open as another with the same secret.
 */
import { createCipheriv, createDecipheriv, createHash, createSecretKey, hkdfSync } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { SessionUnsupportedError } from "../core/errors.js";
import { checkSecretList } from "../core/secrets.js";
import { randomBytesPooled } from "../core/random.js";
import type { ClientSideStore, OpenedCookie } from "../core/store.js";

export interface CookieStoreOptions {
  /**
   * Required: [newest, ...older], each at least 32 characters with at least 72 bits of estimated
   * entropy. The first seals; all open, so a secret can be rotated without logging anyone out
   * (cookies opened with an older one are re-sealed).
   */
  secrets: readonly string[];
  /**
   * Default "session": sealed into every cookie with the cookie's name. Two apps that share a
   * secret and a cookie name give different purposes, so one's cookies never open in the other.
   */
  purpose?: string;
  /**
   * Default true: format-1 cookies (sessionkit 0.1, not bound to the cookie name) still open, as
   * stale, and are re-sealed in format 3. false refuses them (a fresh session). The default turns
   * to false in the first release after 2027-06-30 (docs/stores/cookie.md, "Format").
   */
  acceptFormat1?: boolean;
}

const FORMAT = 3;
const FORMAT_2 = 2; // 0.2 previews: the same layout, each cookie's key and IV by HKDF; opened once, then re-sealed
const FORMAT_1 = 1; // sessionkit 0.1: one key per secret, random IV; opened once, then re-sealed
// Domain separation (RFC 5869 section 3.2): the same secret used elsewhere yields unrelated keys.
const GENERATOR_INFO = "sessionkit cookie v3";
const FORMAT_2_INFO = "sessionkit cookie v2";
const FORMAT_2_MESSAGE_INFO = "sessionkit cookie v2 message";
const FORMAT_1_INFO = "sessionkit cookie v1";
const KEY_BYTES = 32;
const KEY_ID_BYTES = 4;
const SALT_BYTES = 16;
const IV_BYTES = 12; // NIST SP 800-38D section 8.2: 96-bit IVs for GCM
const TAG_BYTES = 16;
const EXPIRY_BYTES = 8;
const KEYSTREAM_ZEROS = Buffer.alloc(48); // three AES blocks: the 32-byte key and the 12-byte IV
const HEADER_BYTES = 1 + KEY_ID_BYTES;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

interface SecretKeys {
  /** Format 3: the AES key whose counter-mode output at a cookie's salt is that cookie's key and IV. */
  generator: KeyObject;
  id: Buffer;
  /** Format 2: the HKDF input of each cookie's key (a KeyObject: given bytes, hkdfSync makes one per call). */
  format2Master: KeyObject;
  format2Id: Buffer;
  /** Format 1: the AES key itself. */
  legacy: Buffer;
  legacyId: Buffer;
}

export class CookieStore implements ClientSideStore {
  readonly clientSide = true as const;
  readonly #keys: SecretKeys[];
  readonly #purpose: string;
  readonly #acceptFormat1: boolean;
  /** The AAD tail of each cookie name seen, JSON of [purpose, name]. */
  readonly #boundNames = new Map<string, Buffer>();

  constructor(options: CookieStoreOptions) {
    this.#keys = checkSecretList(options?.secrets, 'CookieStore: option "secrets"').map(deriveKeys);
    this.#purpose = checkPurpose(options.purpose);
    if (options.acceptFormat1 !== undefined && typeof options.acceptFormat1 !== "boolean") {
      throw new TypeError('CookieStore: option "acceptFormat1" must be true or false');
    }
    this.#acceptFormat1 = options.acceptFormat1 ?? true;
  }

  /** `name` is the cookie (or header) the value travels in; the manager passes it. */
  seal(payload: string, expiresAt: number, name: string): string {
    const { generator, id } = this.#keys[0]!;
    const header = Buffer.from([FORMAT, ...id]);
    const salt = randomBytesPooled(SALT_BYTES);
    const { key, iv } = cookieKey(generator, salt);
    const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(this.#aad(header, salt, name));
    const expiry = Buffer.alloc(EXPIRY_BYTES);
    expiry.writeDoubleBE(expiresAt);
    const ciphertext = Buffer.concat([cipher.update(expiry), cipher.update(payload, "utf8"), cipher.final()]);
    return Buffer.concat([header, salt, ciphertext, cipher.getAuthTag()]).toString("base64url");
  }

  open(value: string, now: number, name: string): OpenedCookie | null {
    const sealed = decodeStrict(value);
    if (!sealed || sealed.length < HEADER_BYTES + EXPIRY_BYTES + TAG_BYTES) return null;
    for (let index = 0; index < this.#keys.length; index++) {
      const plaintext = this.#openWith(this.#keys[index]!, sealed, name);
      if (!plaintext) continue;
      const expiresAt = plaintext.readDoubleBE(0);
      if (!(expiresAt > now)) return null;
      // An older format is re-sealed (in the current one, with the name bound) on this response.
      return { payload: plaintext.toString("utf8", EXPIRY_BYTES), expiresAt, stale: index > 0 || sealed[0] !== FORMAT };
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

  /** The key id picks the key: no trial decryption with every key. */
  #openWith(keys: SecretKeys, sealed: Buffer, name: string): Buffer | null {
    const id = sealed.subarray(1, HEADER_BYTES);
    if (sealed[0] === FORMAT) return keys.id.equals(id) ? this.#openSalted(sealed, name, cookieKey, keys.generator) : null;
    if (sealed[0] === FORMAT_2) return keys.format2Id.equals(id) ? this.#openSalted(sealed, name, format2Key, keys.format2Master) : null;
    if (sealed[0] === FORMAT_1) return this.#acceptFormat1 && keys.legacyId.equals(id) ? openFormat1(keys.legacy, sealed) : null;
    return null;
  }

  /** Formats 2 and 3: header | salt | ciphertext | tag, the key and IV derived from the salt. */
  #openSalted(sealed: Buffer, name: string, derive: typeof cookieKey, secretKey: KeyObject): Buffer | null {
    const bodyStart = HEADER_BYTES + SALT_BYTES;
    if (sealed.length < bodyStart + EXPIRY_BYTES + TAG_BYTES) return null;
    const salt = sealed.subarray(HEADER_BYTES, bodyStart);
    const { key, iv } = derive(secretKey, salt);
    return decrypt(key, iv, this.#aad(sealed.subarray(0, HEADER_BYTES), salt, name), sealed, bodyStart);
  }

  /** JSON of [purpose, name] is an unambiguous encoding of the pair (no separator to forge). */
  #aad(header: Buffer, salt: Buffer, name: string): Buffer {
    if (typeof name !== "string") throw new TypeError("CookieStore: seal() and open() need the cookie name as third argument");
    let bound = this.#boundNames.get(name);
    if (bound === undefined) {
      bound = Buffer.from(JSON.stringify([this.#purpose, name]));
      // An app has a cookie name or two; a caller passing many is not made to grow this map.
      if (this.#boundNames.size < 16) this.#boundNames.set(name, bound);
    }
    return Buffer.concat([header, salt, bound]);
  }
}

function checkPurpose(purpose: string | undefined): string {
  if (purpose === undefined) return "session";
  if (typeof purpose !== "string" || purpose === "") throw new TypeError('CookieStore: option "purpose" must be a non-empty string');
  return purpose;
}

function deriveKeys(secret: string): SecretKeys {
  const fromSecret = (info: string) => Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), info, KEY_BYTES));
  const generator = fromSecret(GENERATOR_INFO);
  const format2Master = fromSecret(FORMAT_2_INFO);
  const legacy = fromSecret(FORMAT_1_INFO);
  return {
    generator: createSecretKey(generator),
    id: keyId(generator),
    format2Master: createSecretKey(format2Master),
    format2Id: keyId(format2Master),
    legacy,
    legacyId: keyId(legacy),
  };
}

/** A hash of a derived key reveals nothing usable about it (SHA-256 preimage resistance). */
function keyId(key: Buffer): Buffer {
  return createHash("sha256").update(key).digest().subarray(0, KEY_ID_BYTES);
}

/**
 * Format 3: AES-256(generator, salt), AES-256(generator, salt + 1), AES-256(generator, salt + 2),
 * the counter block incremented as one 128-bit big-endian number. Two cookies share a block only
 * if their random salts lie within 2 of each other (5 of 2^128 differences per pair).
 */
function cookieKey(generator: KeyObject, salt: Buffer): { key: Buffer; iv: Buffer } {
  const keystream = createCipheriv("aes-256-ctr", generator, salt).update(KEYSTREAM_ZEROS);
  return { key: keystream.subarray(0, KEY_BYTES), iv: keystream.subarray(KEY_BYTES, KEY_BYTES + IV_BYTES) };
}

/** Format 2: HKDF-SHA256(master, salt), about three times format 3's CPU. */
function format2Key(master: KeyObject, salt: Buffer): { key: Buffer; iv: Buffer } {
  const okm = Buffer.from(hkdfSync("sha256", master, salt, FORMAT_2_MESSAGE_INFO, KEY_BYTES + IV_BYTES));
  return { key: okm.subarray(0, KEY_BYTES), iv: okm.subarray(KEY_BYTES) };
}

/** Format 1: version | key id | IV (12) | ciphertext | tag, AAD = version | key id. */
function openFormat1(key: Buffer, sealed: Buffer): Buffer | null {
  const bodyStart = HEADER_BYTES + IV_BYTES;
  if (sealed.length < bodyStart + EXPIRY_BYTES + TAG_BYTES) return null;
  return decrypt(key, sealed.subarray(HEADER_BYTES, bodyStart), sealed.subarray(0, HEADER_BYTES), sealed, bodyStart);
}

/** Node's base64url decoder skips bad characters and ignores spare bits; only the canonical form is accepted. */
function decodeStrict(value: string): Buffer | null {
  if (typeof value !== "string" || !BASE64URL.test(value)) return null;
  const bytes = Buffer.from(value, "base64url");
  return bytes.toString("base64url") === value ? bytes : null;
}

function decrypt(key: Buffer, iv: Buffer, aad: Buffer, sealed: Buffer, bodyStart: number): Buffer | null {
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(bodyStart, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return null; // authentication failed: tampered, truncated, another key, another cookie name
  }
}

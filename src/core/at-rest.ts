/**
 * What a store keeps about a signed-in user besides the sealed id (envelope.ts): the owner key
 * every store indexes, and the device (User-Agent, IP) that listSessions shows.
 *
 * - Owner key. Without `atRestSecret`: SHA-256 of the user id, which anyone holding a store dump
 *   can reverse for a guessable id (a number, an email from a leaked list) by trying candidates.
 *   With it: HMAC-SHA256 under a key derived from the secret, which no dump reverses.
 * - Device. Sealed with AES-256-GCM under a key derived from the user id (and the secret, when
 *   there is one), so listSessions(userId) opens it and a dump does not show it. Without a
 *   secret, whoever guesses the user id can open it, as they could match the owner key.
 *
 * Sessions signed in before `atRestSecret` was set keep their SHA-256 owner until they end (at
 * most `absoluteTimeout`): `owners()` lists both keys so listSessions, revokeSession and
 * revokeUser still find them, and records written before the device was sealed are still read.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync } from "node:crypto";
import { randomBytesPooled } from "./random.js";

export interface AtRest {
  /** The owner key new sign-ins are indexed under. */
  owner(userId: string): string;
  /** Every owner key a user's live sessions may be indexed under: the current one first. */
  owners(userId: string): readonly string[];
  sealDevice(userId: string, userAgent: string | undefined, ip: string | undefined): string;
  /** The device, or nothing for a seal that does not open with this user id and secret. */
  openDevice(userId: string, sealed: string): { userAgent: string | undefined; ip: string | undefined };
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const NO_DEVICE = Object.freeze({ userAgent: undefined, ip: undefined });

/** The SHA-256 owner key of sessionkit 0.1 and 0.2, and of apps without `atRestSecret`. */
export function unkeyedOwner(userId: string): string {
  return createHash("sha256").update(`sessionkit/owner\0${userId}`).digest("base64url");
}

export function atRestKeys(secret: string | undefined): AtRest {
  // Domain separation (RFC 5869 section 3.2): the secret used elsewhere yields unrelated keys.
  const derive = (info: string) => (secret === undefined ? undefined : Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), info, 32)));
  const ownerKey = derive("sessionkit owner key v1");
  const deviceKey = derive("sessionkit device key v1");
  const owner = ownerKey ? (userId: string) => createHmac("sha256", ownerKey).update(`sessionkit/owner\0${userId}`).digest("base64url") : unkeyedOwner;
  const unkeyedDevice = (userId: string): Buffer => createHash("sha256").update(`sessionkit/device\0${userId}`).digest();
  const keyOf = deviceKey ? (userId: string): Buffer => createHmac("sha256", deviceKey).update(userId).digest() : unkeyedDevice;
  return {
    owner,
    owners: ownerKey ? (userId) => [owner(userId), unkeyedOwner(userId)] : (userId) => [owner(userId)],
    sealDevice(userId, userAgent, ip) {
      const iv = randomBytesPooled(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", keyOf(userId), iv);
      const body = Buffer.concat([cipher.update(JSON.stringify([userAgent ?? null, ip ?? null]), "utf8"), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
    },
    openDevice(userId, sealed) {
      const bytes = Buffer.from(sealed, "base64url");
      if (bytes.length <= IV_BYTES + TAG_BYTES) return NO_DEVICE;
      // A device sealed before atRestSecret was set opens under the unkeyed key.
      return openWith(keyOf(userId), bytes) ?? (deviceKey ? openWith(unkeyedDevice(userId), bytes) : null) ?? NO_DEVICE;
    },
  };
}

function openWith(key: Buffer, bytes: Buffer): { userAgent: string | undefined; ip: string | undefined } | null {
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, IV_BYTES));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    const text = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
    const [userAgent, ip] = JSON.parse(text) as [unknown, unknown];
    return { userAgent: typeof userAgent === "string" ? userAgent : undefined, ip: typeof ip === "string" ? ip : undefined };
  } catch {
    return null;
  }
}

import { createCipheriv, createDecipheriv, createHash } from "node:crypto";
import type { SessionCodec } from "./codec.js";
import { encodeJsonMap, jsonCodec } from "./codec.js";
import type { Binding } from "./dbsc/binding.js";
import { readBinding } from "./dbsc/binding.js";
import type { AtRest } from "./at-rest.js";
import { unkeyedOwner } from "./at-rest.js";
import type { FenceMark } from "./fence.js";
import type { SessionLifetime, SignedInUser } from "./session.js";
import { randomBytesPooled } from "./random.js";

/**
 * The record text a store keeps: `createdAt|data` for an anonymous session (the 0.1 format),
 * `createdAt~meta|data` for a signed-in one, where meta is base64url JSON of the user fields
 * (owner key, times, sealed id, and the device sealed as at-rest.ts describes). With option
 * `renewInterval` the head also carries the renewal: `createdAt@rotatedAt` (the last rotation),
 * and during a grace window `createdAt@rotatedAt.graceUntil.previousKey`, so a logout or a
 * revocation also deletes the forward left under the previous id (see FORWARD).
 *
 * The user id itself is kept only encrypted under a key derived from the session token, which
 * the store never sees (it holds SHA-256 of the token): a store dump shows neither tokens nor
 * emails used as user ids, yet the request holding the token gets its `userId` back on load.
 */
export interface Envelope {
  createdAt: number;
  data: Map<string, unknown>;
  user: StoredUser | undefined;
  renewal: Renewal | undefined;
}

/** When the session last got a new id, and the forward its previous id keeps until `graceUntil`. */
export interface Renewal {
  rotatedAt: number;
  previous: { key: string; graceUntil: number } | undefined;
}

/** The user fields at rest; `id` is present once unsealed with the token. */
export interface StoredUser {
  owner: string;
  signedInAt: number;
  /** When a request last wrote the record (touches are seen through expiresAt instead). */
  lastWriteAt: number;
  /** In the clear only in records written before the device was sealed (sessionkit 0.2). */
  userAgent: string | undefined;
  ip: string | undefined;
  /** User-Agent and IP sealed under the user's device key (at-rest.ts). */
  sealedDevice: string | undefined;
  sealedId: string;
  binding: Binding | undefined;
  /** The session's handle, kept across rotations (absent in records of 0.2 previews). */
  handle: string | undefined;
  /** When and how the user last authenticated (records of 0.2 previews: their sign-in). */
  authenticatedAt: number;
  authMethod: string | undefined;
  lifetime: SessionLifetime | undefined;
  /** The user's fence as the sign-in saw it (see fence.ts). */
  fence: FenceMark | undefined;
}

export interface UserMeta {
  o: string;
  s: number;
  l: number;
  u: string;
  /** Sealed device; `a` and `i` (User-Agent, IP in the clear) are only read, from older records. */
  d?: string;
  a?: string;
  i?: string;
  /** The device binding (option `dbsc`). */
  b?: Binding;
  h?: string;
  f?: FenceMark;
  /** authenticatedAt, when it differs from the sign-in (s). */
  t?: number;
  m?: string;
  /** Per-session lifetime: persistent (1/0), idle and absolute timeouts in ms. */
  p?: number;
  ti?: number;
  ta?: number;
}

/** A record that a rotation has retired: never decodes, so it reads as "not found". */
export const RETIRED = "-";

/**
 * What a renewal leaves under the previous id for `renewGrace`: `>graceUntil.sealed`, the new
 * token sealed under a key derived from the previous one, so only a request holding the previous
 * token finds the current session, and a store dump shows no usable token. It never decodes as an
 * envelope (no `|`), so any other reader takes it for "not found". The deadline is in the text
 * because a store keeps the longer expiry of the record it replaced (expiry never moves back).
 */
export const FORWARD = ">";

export function encodeEnvelope(codec: SessionCodec, createdAt: number, data: Map<string, unknown>, user: UserMeta | undefined, renewal?: Renewal): string {
  const body = codec === jsonCodec ? encodeJsonMap(data) : codec.encode(Object.fromEntries(data));
  const head = renewal ? `${createdAt}@${renewalText(renewal)}` : `${createdAt}`;
  if (!user) return `${head}|${body}`;
  return `${head}~${Buffer.from(JSON.stringify(user)).toString("base64url")}|${body}`;
}

function renewalText({ rotatedAt, previous }: Renewal): string {
  return previous ? `${rotatedAt}.${previous.graceUntil}.${previous.key}` : `${rotatedAt}`;
}

/** Store keys are [A-Za-z0-9_-]: none of the head's separators. */
const RENEWAL = /^(\d+)(?:\.(\d+)\.([A-Za-z0-9_-]{1,64}))?$/;

function readRenewal(text: string): Renewal | null {
  const match = RENEWAL.exec(text);
  if (!match) return null;
  const previous = match[3] === undefined ? undefined : { key: match[3], graceUntil: Number(match[2]) };
  return { rotatedAt: Number(match[1]), previous };
}

/** The forward a renewal writes under `previousToken`'s key. */
export function encodeForward(newToken: string, previousToken: string, graceUntil: number): string {
  return `${FORWARD}${graceUntil}.${seal(newToken, forwardKey(previousToken))}`;
}

/** True for a forward's text (whether or not it can still be followed). */
export function isForward(text: string): boolean {
  return text.startsWith(FORWARD);
}

/** The current token a forward names, or null when its grace is over or it was not made for `previousToken`. */
export function followForward(text: string, previousToken: string, now: number): string | null {
  const dot = text.indexOf(".");
  if (!isForward(text) || dot === -1) return null;
  const graceUntil = Number(text.slice(1, dot));
  if (!(graceUntil > now)) return null;
  return open(text.slice(dot + 1), forwardKey(previousToken));
}

/** The device seal of each signed-in user, made once and reused by later writes. */
const sealedDevices = new WeakMap<SignedInUser, string>();

/** A loaded user's device seal, kept as it is (unopened) when the record is written again. */
export function rememberSealedDevice(user: SignedInUser, sealed: string | undefined): void {
  if (sealed !== undefined) sealedDevices.set(user, sealed);
}

/** The user fields to store; the id is sealed once per token and the seal reused by later writes. */
export function userMeta(user: SignedInUser, token: string, now: number, atRest: AtRest): UserMeta {
  const meta: UserMeta = { o: user.owner, s: user.signedInAt, l: now, u: (user.sealedId ??= sealUserId(user.id, token)) };
  let device = sealedDevices.get(user);
  // A record of 0.2 kept the device in the clear: it is sealed at its next write.
  if (device === undefined && (user.userAgent !== undefined || user.ip !== undefined)) {
    sealedDevices.set(user, (device = atRest.sealDevice(user.id, user.userAgent, user.ip)));
  }
  if (device !== undefined) meta.d = device;
  if (user.binding !== undefined) meta.b = user.binding;
  if (user.handle !== undefined) meta.h = user.handle;
  if (user.fence !== undefined) meta.f = user.fence;
  if (user.authenticatedAt !== user.signedInAt) meta.t = user.authenticatedAt;
  if (user.authMethod !== undefined) meta.m = user.authMethod;
  const lifetime = user.lifetime;
  if (lifetime?.persistent !== undefined) meta.p = lifetime.persistent ? 1 : 0;
  if (lifetime?.idleTimeout !== undefined) meta.ti = lifetime.idleTimeout;
  if (lifetime?.absoluteTimeout !== undefined) meta.ta = lifetime.absoluteTimeout;
  return meta;
}

/** The envelope, or null for text that is corrupt, hostile or retired (all read as not found). */
export function decodeEnvelope(codec: SessionCodec, text: string): Envelope | null {
  const bar = text.indexOf("|");
  if (bar < 1) return null;
  const head = text.slice(0, bar);
  const tilde = head.indexOf("~");
  const times = tilde === -1 ? head : head.slice(0, tilde);
  const at = times.indexOf("@");
  const createdAt = Number(at === -1 ? times : times.slice(0, at));
  if (!Number.isFinite(createdAt)) return null;
  const renewal = at === -1 ? undefined : readRenewal(times.slice(at + 1));
  if (renewal === null) return null;
  try {
    const user = tilde === -1 ? undefined : decodeMeta(head.slice(tilde + 1));
    return { createdAt, data: toMap(codec.decode(text.slice(bar + 1))), user, renewal };
  } catch {
    return null;
  }
}

function decodeMeta(text: string): StoredUser {
  const meta = JSON.parse(Buffer.from(text, "base64url").toString()) as Partial<UserMeta>;
  if (typeof meta.o !== "string" || typeof meta.u !== "string" || typeof meta.s !== "number" || typeof meta.l !== "number") {
    throw new TypeError("malformed user metadata");
  }
  const binding = meta.b === undefined ? undefined : readBinding(meta.b);
  // A binding that does not read back must not load the session unbound: fail closed.
  if (meta.b !== undefined && !binding) throw new TypeError("malformed device binding");
  const fence = meta.f && typeof meta.f.e === "string" && typeof meta.f.g === "number" ? meta.f : undefined;
  const handle = typeof meta.h === "string" ? meta.h : undefined;
  const authenticatedAt = typeof meta.t === "number" ? meta.t : meta.s;
  const authMethod = typeof meta.m === "string" ? meta.m : undefined;
  const lifetime = meta.p !== undefined || meta.ti !== undefined || meta.ta !== undefined ? lifetimeOf(meta) : undefined;
  const sealedDevice = typeof meta.d === "string" ? meta.d : undefined;
  return {
    owner: meta.o,
    signedInAt: meta.s,
    lastWriteAt: meta.l,
    userAgent: meta.a,
    ip: meta.i,
    sealedDevice,
    sealedId: meta.u,
    handle,
    fence,
    authenticatedAt,
    authMethod,
    lifetime,
    binding,
  };
}

/** Only positive whole numbers are taken: a record cannot lend a session a lifetime it did not get. */
function lifetimeOf(meta: Partial<UserMeta>): SessionLifetime {
  const positive = (value: unknown) => (typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : undefined);
  return { persistent: meta.p === undefined ? undefined : meta.p === 1, idleTimeout: positive(meta.ti), absoluteTimeout: positive(meta.ta) };
}

/** The owner key of a user id without `atRestSecret` (at-rest.ts): what stores index, never the id itself. */
export function ownerOf(userId: string): string {
  return unkeyedOwner(userId);
}

/** The public handle of a stored key: one-way, 128 bits, distinct from the key's own hash. */
export function handleOfKey(key: string): string {
  return createHash("sha256").update(`sessionkit/handle\0${key}`).digest("base64url").slice(0, 22);
}

function userKey(token: string): Buffer {
  return createHash("sha256").update(`sessionkit/user-id\0${token}`).digest();
}

/** Distinct from userKey: a forward's seal and a user id's never open with each other's key. */
function forwardKey(token: string): Buffer {
  return createHash("sha256").update(`sessionkit/forward\0${token}`).digest();
}

/** AES-256-GCM under a key only the token holder can derive; random 96-bit IV per seal. */
export function sealUserId(userId: string, token: string): string {
  return seal(userId, userKey(token));
}

/** The user id, or null when the seal was not made with this token (tampered or foreign). */
export function openUserId(sealed: string, token: string): string | null {
  return open(sealed, userKey(token));
}

function seal(text: string, key: Buffer): string {
  const iv = randomBytesPooled(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const body = Buffer.concat([cipher.update(text, "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
}

function open(sealed: string, key: Buffer): string | null {
  const bytes = Buffer.from(sealed, "base64url");
  if (bytes.length < 29) return null;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(12, 28));
    return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString("utf8");
  } catch {
    return null;
  }
}

/** Own enumerable keys into a Map, without Object.entries' array per key. */
function toMap(data: Record<string, unknown>): Map<string, unknown> {
  const map = new Map<string, unknown>();
  for (const key in data) if (Object.hasOwn(data, key)) map.set(key, data[key]);
  return map;
}

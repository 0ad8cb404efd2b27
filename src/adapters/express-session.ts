/**
 * Moves express-session sessions into sessionkit on a user's next request, so switching
 * libraries logs nobody out: `new SessionManager({ store, migrateFrom: fromExpressSession({...}) })`.
 * The manager asks only when a request has no valid sessionkit session but does carry the
 * legacy cookie; each legacy session is taken once (read, then destroyed in the legacy store).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { serialize } from "cookie";
import type { SessionMigration } from "../core/options.js";
import { warnOnce } from "../core/warnings.js";

/** A session record as express-session stores it: the data plus its `cookie` settings. */
export interface LegacySessionRecord {
  cookie?: { expires?: string | Date | null } | null;
  [key: string]: unknown;
}

/** The part of express-session's Store API (callback style) the migration uses. */
export interface LegacyStore {
  get(sid: string, callback: (error: unknown, session?: LegacySessionRecord | null) => void): void;
  destroy(sid: string, callback: (error?: unknown) => void): void;
}

export interface ExpressSessionMigrationOptions {
  /** The express-session store the old app wrote to (MemoryStore, connect-redis, connect-pg-simple, ...). */
  store: LegacyStore;
  /** express-session's `secret`: one string or a list; every entry is tried, as express-session does. */
  secret: string | readonly string[];
  /** Default "connect.sid": express-session's default cookie name. */
  name?: string;
  /** Default path "/" and no domain: must match the legacy cookie, or the browser keeps it. */
  cookie?: { path?: string; domain?: string };
  /**
   * Default: express-session's own ids (uid-safe: 32 base64url characters). Give the format of
   * your ids if the old app had a custom `genid`. A signed id of another format never reaches the
   * legacy store: stores that build a file path or key from the id must not see "../config".
   * The pattern must match the whole id (it is anchored for you), and an id holding "/", "\\",
   * ".." or NUL is refused whatever the pattern allows.
   */
  sidPattern?: RegExp;
}

// express-session's genid is uid-safe(24): 24 random bytes as 32 characters of base64url.
const EXPRESS_SESSION_ID = /^[A-Za-z0-9_-]{32}$/;

/**
 * Secrets printed in the READMEs and examples of express-session, Express and cookie-parser,
 * which apps copy into production. Migration must still accept them (the cookies in the wild are
 * signed with them), but anyone who read those READMEs can forge a legacy cookie.
 */
const SAMPLE_SECRETS = new Set(["keyboard cat", "secret", "my secret", "shhhh, very secret", "your secret here", "changeme", "change me", "supersecret"]);

export function fromExpressSession(options: ExpressSessionMigrationOptions): SessionMigration {
  const { store, name = "connect.sid" } = options;
  const secrets = checkSecrets(options.secret);
  const sidPattern = checkSidPattern(options.sidPattern);
  if (!store || typeof store.get !== "function" || typeof store.destroy !== "function") {
    throw new TypeError('fromExpressSession: option "store" must be an express-session store with get() and destroy()');
  }
  const liveRecord = async (cookieValue: string): Promise<{ sid: string; record: LegacySessionRecord } | null> => {
    const sid = unsignCookie(cookieValue, secrets);
    // Forged, unsigned, or signed but not an id (a known sample secret signs anything): never asked.
    if (sid === null || !isLegacyId(sid, sidPattern)) return null;
    const record = await callback<LegacySessionRecord | null | undefined>((done) => store.get(sid, done));
    return record && !isExpired(record) ? { sid, record } : null;
  };
  const path = options.cookie?.path ?? "/";
  const domain = options.cookie?.domain;
  return {
    cookieName: name,
    async take(cookieValue) {
      const found = await liveRecord(cookieValue);
      if (!found) return null;
      await callback<void>((done) => store.destroy(found.sid, done));
      const { cookie: _cookie, ...data } = found.record;
      return data;
    },
    async verify(cookieValue) {
      return (await liveRecord(cookieValue)) !== null;
    },
    expireCookie(secure) {
      return serialize(name, "", { path, domain, maxAge: 0, expires: new Date(0), httpOnly: true, secure });
    },
  };
}

function checkSecrets(secret: string | readonly string[]): readonly string[] {
  const list = typeof secret === "string" ? [secret] : secret;
  if (!Array.isArray(list) || list.length === 0 || list.some((s) => typeof s !== "string" || s === "")) {
    throw new TypeError('fromExpressSession: option "secret" must be the express-session secret: a non-empty string or list of them');
  }
  const sample = list.find((secret) => SAMPLE_SECRETS.has(secret.trim().toLowerCase()));
  if (sample !== undefined) {
    warnOnce(
      "SESSIONKIT_SAMPLE_SECRET",
      `sessionkit: the express-session secret ${JSON.stringify(sample)} is a well-known sample secret: anyone can sign a legacy cookie with it. ` +
        "Migration still accepts it so existing users keep their sessions; finish the migration and drop migrateFrom soon.",
    );
  }
  return [...list];
}

function checkSidPattern(pattern: RegExp | undefined): RegExp {
  if (pattern === undefined) return EXPRESS_SESSION_ID;
  if (!(pattern instanceof RegExp)) {
    throw new TypeError('fromExpressSession: option "sidPattern" must be a RegExp matching the whole legacy id, such as /^[0-9a-f-]{36}$/');
  }
  // Anchored, so /[A-Za-z0-9_-]{32}/ matches the whole id, not 32 characters of "A…A/../../config";
  // without g and y, test() keeps no lastIndex between calls; without m, "$" is the end of the id.
  return new RegExp(`^(?:${pattern.source})$`, pattern.flags.replace(/[gym]/g, ""));
}

/**
 * Legacy stores build file paths and keys from the id (session-file-store joins it to its
 * directory), so "/", "\\", ".." and NUL are refused whatever the app's pattern allows.
 */
function isLegacyId(sid: string, pattern: RegExp): boolean {
  return pattern.test(sid) && !/[/\\\0]|\.\./.test(sid);
}

/**
 * express-session's value is "s:" + cookie-signature's sign(sid, secret): `${sid}.${sig}` with
 * sig = base64(HMAC-SHA256(secret, sid)) minus trailing "=". Compared in constant time, as
 * cookie-signature does, so a forger learns nothing from timing.
 */
function unsignCookie(value: string, secrets: readonly string[]): string | null {
  if (!value.startsWith("s:")) return null;
  const signed = value.slice(2);
  const dot = signed.lastIndexOf(".");
  if (dot < 1) return null;
  const sid = signed.slice(0, dot);
  const given = Buffer.from(signed.slice(dot + 1));
  for (const secret of secrets) {
    const expected = Buffer.from(createHmac("sha256", secret).update(sid).digest("base64").replace(/=+$/, ""));
    if (expected.length === given.length && timingSafeEqual(expected, given)) return sid;
  }
  return null;
}

/** Stores without native expiry may still hand back a stale record; express-session checks this too. */
function isExpired(record: LegacySessionRecord): boolean {
  const expires = record.cookie?.expires;
  if (expires === undefined || expires === null) return false;
  const at = new Date(expires).getTime();
  return Number.isFinite(at) && at <= Date.now();
}

function callback<R>(run: (done: (error: unknown, result?: R) => void) => void): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    run((error, result) => (error ? reject(error) : resolve(result as R)));
  });
}

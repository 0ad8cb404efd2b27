import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sessionMiddleware } from "../src/adapters/express.js";
import { SessionTooLargeError, SessionUnsupportedError } from "../src/core/errors.js";
import { SessionManager } from "../src/core/manager.js";
import type { SessionManagerOptions } from "../src/core/options.js";
import { CookieStore } from "../src/stores/cookie.js";

const NEW = "new secret: 4c9e1a7f0d3b8265 e07b9c2d";
const OLD = "old secret: 9a2f6d0c4e8b1375 b3d81e6a";
const FOREIGN = "foreign secret: 7e0b3d9a5c21f486 2c";

function managerWith(secrets: string[], options: Partial<SessionManagerOptions> = {}) {
  return new SessionManager<Record<string, unknown>>({ store: new CookieStore({ secrets }), ...options });
}

/** The cookie value of the first Set-Cookie, or "" when it expires the cookie. */
function cookieValue(setCookies: string[]): string {
  const match = /^sid=([^;]*)/.exec(setCookies[0] ?? "");
  if (!match) throw new Error(`no session cookie in ${JSON.stringify(setCookies)}`);
  return match[1]!;
}

async function sealedSession(sessions: SessionManager<Record<string, unknown>>, data: Record<string, unknown> = { user: "ada" }) {
  const session = await sessions.load();
  for (const [key, value] of Object.entries(data)) session.set(key, value);
  return cookieValue(await sessions.commit(session));
}

/** An older sealed value: header | IV or salt | AES-256-GCM of expiry and payload | tag. */
function sealOlder(header: Buffer, ivOrSalt: Buffer, key: Buffer, iv: Buffer, aad: Buffer, payload: string, expiresAt: number): string {
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aad);
  const expiry = Buffer.alloc(8);
  expiry.writeDoubleBE(expiresAt);
  const ciphertext = Buffer.concat([cipher.update(expiry), cipher.update(payload, "utf8"), cipher.final()]);
  return Buffer.concat([header, ivOrSalt, ciphertext, cipher.getAuthTag()]).toString("base64url");
}

/** The format before per-message keys (sessionkit 0.1): AES-256-GCM under one HKDF key per secret. */
function sealV1(secret: string, payload: string, expiresAt: number): string {
  const key = Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), "sessionkit cookie v1", 32));
  const header = Buffer.from([1, ...createHash("sha256").update(key).digest().subarray(0, 4)]);
  const iv = randomBytes(12);
  return sealOlder(header, iv, key, iv, header, payload, expiresAt);
}

/** The format of the 0.2 previews: format 3's layout, each cookie's key and IV by HKDF-SHA256 of the salt. */
function sealV2(secret: string, payload: string, expiresAt: number, name: string): string {
  const master = Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), "sessionkit cookie v2", 32));
  const header = Buffer.from([2, ...createHash("sha256").update(master).digest().subarray(0, 4)]);
  const salt = randomBytes(16);
  const keyAndIv = Buffer.from(hkdfSync("sha256", master, salt, "sessionkit cookie v2 message", 44));
  const aad = Buffer.concat([header, salt, Buffer.from(JSON.stringify(["session", name]))]);
  return sealOlder(header, salt, keyAndIv.subarray(0, 32), keyAndIv.subarray(32), aad, payload, expiresAt);
}

/** Loads an older cookie through the manager and checks that its commit re-seals it, readable, in format 3. */
async function expectResealedInFormat3(sessions: SessionManager<Record<string, unknown>>, older: string): Promise<void> {
  const session = await sessions.load(older);
  expect(session.get("user")).toBe("ada");
  const resealed = cookieValue(await sessions.commit(session));
  expect(Buffer.from(resealed, "base64url")[0]).toBe(3);
  expect((await sessions.load(resealed)).get("user")).toBe("ada");
}

/** An Express app on 127.0.0.1: /login signs "ada" in, /whoami shows the session data. */
async function serve(sessions: SessionManager<Record<string, unknown>>) {
  const app = express();
  app.use(sessionMiddleware(sessions));
  app.get("/login", (req, res) => {
    req.session.set("user", "ada");
    res.send("ok");
  });
  app.get("/whoami", (req, res) => {
    res.json(req.session.toJSON());
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

describe("CookieStore", () => {
  it("round-trips a session through the manager: load, commit, load", async () => {
    const sessions = managerWith([NEW]);
    const session = await sessions.load();
    session.set("user", "ada").set("when", new Date(0)).set("text", "日本語 🌍 \"; ,");
    const cookie = cookieValue(await sessions.commit(session));
    const loaded = await sessions.load(cookie);
    expect(loaded.isNew).toBe(false);
    expect(loaded.id).toBe(session.id);
    expect(loaded.get("user")).toBe("ada");
    expect(loaded.get("when")).toEqual(new Date(0));
    expect(loaded.get("text")).toBe("日本語 🌍 \"; ,");
    expect(await sessions.exists(cookie)).toBe(true);
    expect(await sessions.commit(loaded), "an unmodified, untouched session sends no cookie").toEqual([]);
  });

  it("seals the same payload differently every time (random IV) and the value is cookie-safe", () => {
    const store = new CookieStore({ secrets: [NEW] });
    const a = store.seal("payload", Date.now() + 60_000, "sid");
    const b = store.seal("payload", Date.now() + 60_000, "sid");
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(a).not.toContain("payload");
  });

  it("opens nothing, and never throws, when any character of a sealed cookie is changed", () => {
    const store = new CookieStore({ secrets: [NEW] });
    const now = Date.now();
    const sealed = store.seal(`${"t".repeat(43)}|${now}|{"user":"ada"}`, now + 60_000, "sid");
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    fc.assert(
      fc.property(fc.nat(sealed.length - 1), fc.constantFrom(...alphabet), (position, replacement) => {
        fc.pre(sealed[position] !== replacement);
        const tampered = sealed.slice(0, position) + replacement + sealed.slice(position + 1);
        expect(store.open(tampered, now, "sid")).toBeNull();
      }),
      { numRuns: 2000 },
    );
  });

  it("opens nothing when any bit of the sealed bytes is flipped (exhaustive)", async () => {
    const sessions = managerWith([NEW]);
    const cookie = await sealedSession(sessions);
    const bytes = Buffer.from(cookie, "base64url");
    const store = new CookieStore({ secrets: [NEW] });
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      const flipped = Buffer.from(bytes);
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      expect(store.open(flipped.toString("base64url"), Date.now(), "sid"), `bit ${bit}`).toBeNull();
    }
    const fresh = await sessions.load(Buffer.from(bytes.map((b, i) => (i === 20 ? b ^ 1 : b))).toString("base64url"));
    expect(fresh.isNew, "the manager gives a fresh session for a tampered cookie").toBe(true);
    expect(fresh.get("user")).toBeUndefined();
  });

  it("opens nothing for truncated, extended, garbage or non-canonical values", async () => {
    const sessions = managerWith([NEW]);
    const cookie = await sealedSession(sessions);
    const store = new CookieStore({ secrets: [NEW] });
    for (let length = 0; length < cookie.length; length++) expect(store.open(cookie.slice(0, length), Date.now(), "sid")).toBeNull();
    for (const junk of [cookie + "A", cookie + "==", ` ${cookie}`, cookie.replace(/.$/, "%"), "", "garbage", "x".repeat(5000), "\u0000"]) {
      expect(store.open(junk, Date.now(), "sid"), JSON.stringify(junk.slice(0, 20))).toBeNull();
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (junk) => {
        expect(store.open(junk, Date.now(), "sid")).toBeNull();
      }),
    );
  });

  it("opens nothing sealed with a foreign secret", async () => {
    const cookie = await sealedSession(managerWith([FOREIGN]));
    expect(new CookieStore({ secrets: [NEW, OLD] }).open(cookie, Date.now(), "sid")).toBeNull();
    const fresh = await managerWith([NEW, OLD]).load(cookie);
    expect(fresh.isNew).toBe(true);
  });

  it("rotates secrets: an old cookie opens as stale and the next commit re-seals with the newest", async () => {
    const cookie = await sealedSession(managerWith([OLD]));
    const rotated = managerWith([NEW, OLD]);
    expect(new CookieStore({ secrets: [NEW, OLD] }).open(cookie, Date.now(), "sid")?.stale).toBe(true);
    const session = await rotated.load(cookie);
    expect(session.get("user")).toBe("ada");
    const resealed = cookieValue(await rotated.commit(session)); // unmodified, yet re-sealed
    expect(new CookieStore({ secrets: [NEW] }).open(resealed, Date.now(), "sid")?.stale).toBe(false);
    expect((await managerWith([NEW]).load(resealed)).get("user")).toBe("ada");
  });

  it("loads a fresh session for a cookie replayed after its idle or absolute expiry", async () => {
    let now = Date.UTC(2030, 0, 1);
    const sessions = managerWith([NEW], { now: () => now, idleTimeout: "30m", absoluteTimeout: "2h", touchInterval: "1m" });
    const first = await sealedSession(sessions);
    now += 31 * 60_000;
    expect((await sessions.load(first)).isNew, "idle expiry is inside the seal").toBe(true);

    const start = (now = Date.UTC(2030, 0, 1));
    const early = await sealedSession(sessions);
    let cookie = early;
    for (let step = 0; step < 4; step++) {
      now += 25 * 60_000; // keep it busy: every load is within the idle window
      const session = await sessions.load(cookie);
      expect(session.isNew).toBe(false);
      cookie = cookieValue(await sessions.commit(session)); // touch re-seals with a later expiry
    }
    now = start + 2 * 3_600_000;
    expect((await sessions.load(cookie)).isNew, "absolute expiry: 2h after creation").toBe(true);
    expect((await sessions.load(early)).isNew, "an early cookie replayed later is refused").toBe(true);
  });

  it("refuses to commit a session whose Set-Cookie would pass 4096 bytes", async () => {
    const sessions = managerWith([NEW]);
    const session = await sessions.load();
    session.set("big", "x".repeat(3000));
    await expect(sessions.commit(session)).rejects.toThrow(SessionTooLargeError);
    session.set("big", "x".repeat(2500));
    const headers = await sessions.commit(session);
    expect(Buffer.byteLength(headers[0]!)).toBeLessThanOrEqual(4096);
  });

  it("destroy expires the cookie", async () => {
    const sessions = managerWith([NEW]);
    const session = await sessions.load(await sealedSession(sessions));
    await session.destroy();
    const [expired] = await sessions.commit(session);
    expect(expired).toMatch(/^sid=;/);
    expect(expired).toMatch(/Max-Age=0/);
  });

  it("count() and gc() throw SessionUnsupportedError, on the store and through the manager", async () => {
    const store = new CookieStore({ secrets: [NEW] });
    expect(() => store.count()).toThrow(SessionUnsupportedError);
    expect(() => store.gc()).toThrow(/nothing to garbage-collect/);
    const sessions = new SessionManager({ store });
    await expect(sessions.count()).rejects.toMatchObject({ code: "ERR_SESSION_UNSUPPORTED" });
    await expect(sessions.gc()).rejects.toThrow(SessionUnsupportedError);
  });

  it("rejects secrets with too little variety (estimated entropy under 72 bits), in the store and in the manager's secrets", () => {
    const weak = [" ".repeat(32), "a".repeat(64), "ab".repeat(16), "abcd".repeat(8), "old-secret-".padEnd(32, "o"), "x".repeat(24) + "12345678"];
    for (const secret of weak) {
      expect(() => new CookieStore({ secrets: [secret] }), JSON.stringify(secret)).toThrow(/CookieStore: option "secrets".*too little variety/);
      expect(() => new CookieStore({ secrets: [NEW, secret] })).toThrow(TypeError);
      expect(() => new SessionManager({ store: new CookieStore({ secrets: [NEW] }), secrets: [secret] })).toThrow(/^option "secrets".*too little variety/);
    }
    for (const secret of [randomBytes(16).toString("hex"), randomBytes(24).toString("base64url"), "correct horse battery staple xyz"]) {
      expect(() => new CookieStore({ secrets: [secret] })).not.toThrow();
      expect(() => new SessionManager({ store: new CookieStore({ secrets: [NEW] }), secrets: [secret] })).not.toThrow();
    }
  });

  it("rejects missing or short secrets with a TypeError naming the option", () => {
    for (const secrets of [undefined, [], ["short"], [NEW, "short"], [NEW, 42]]) {
      expect(() => new CookieStore({ secrets } as never)).toThrow(TypeError);
      expect(() => new CookieStore({ secrets } as never)).toThrow(/option "secrets"/);
    }
  });

  it("a cookie sealed for one app's sid does not open as another app's admin_sid with the same secret (real HTTP)", async () => {
    const app = await serve(managerWith([NEW]));
    const admin = await serve(managerWith([NEW], { cookie: { name: "admin_sid" } }));
    try {
      const login = await fetch(`${app.base}/login`);
      const sealed = login.headers.getSetCookie()[0]!.split(";")[0]!.slice("sid=".length);
      expect(await (await fetch(`${app.base}/whoami`, { headers: { cookie: `sid=${sealed}` } })).json()).toEqual({ user: "ada" });
      const replayed = await fetch(`${admin.base}/whoami`, { headers: { cookie: `admin_sid=${sealed}` } });
      expect(replayed.status).toBe(200);
      expect(await replayed.json(), "another cookie name: a fresh session").toEqual({});
    } finally {
      await Promise.all([app.close(), admin.close()]);
    }
  });

  it("a cookie sealed for one purpose does not open for another, same name and secret", () => {
    const now = Date.now();
    const sealed = new CookieStore({ secrets: [NEW], purpose: "shop" }).seal("payload", now + 60_000, "sid");
    expect(new CookieStore({ secrets: [NEW], purpose: "shop" }).open(sealed, now, "sid")?.payload).toBe("payload");
    expect(new CookieStore({ secrets: [NEW], purpose: "admin" }).open(sealed, now, "sid")).toBeNull();
    expect(new CookieStore({ secrets: [NEW] }).open(sealed, now, "sid"), "default purpose").toBeNull();
    expect(() => new CookieStore({ secrets: [NEW], purpose: "" })).toThrow(/option "purpose"/);
  });

  it("seals each cookie under its own key: AES-256 of a random 16-byte salt in the cookie and its next two counter values, under the secret's key (format 3, as documented)", () => {
    const now = Date.now();
    const sealed = Buffer.from(new CookieStore({ secrets: [NEW] }).seal("payload", now + 60_000, "sid"), "base64url");
    // Re-derived here from docs/stores/cookie.md alone (block by block, not in counter mode), so the documented format is the real one.
    const generator = Buffer.from(hkdfSync("sha256", NEW, Buffer.alloc(0), "sessionkit cookie v3", 32));
    expect(sealed[0]).toBe(3);
    expect(sealed.subarray(1, 5)).toEqual(createHash("sha256").update(generator).digest().subarray(0, 4));
    const salt = sealed.subarray(5, 21);
    const counter = BigInt(`0x${salt.toString("hex")}`);
    const blocks = Buffer.from([0n, 1n, 2n].map((step) => ((counter + step) % 2n ** 128n).toString(16).padStart(32, "0")).join(""), "hex");
    const ecb = createCipheriv("aes-256-ecb", generator, null).setAutoPadding(false);
    const keyAndIv = ecb.update(blocks);
    const decipher = createDecipheriv("aes-256-gcm", keyAndIv.subarray(0, 32), keyAndIv.subarray(32, 44));
    decipher.setAAD(Buffer.concat([sealed.subarray(0, 21), Buffer.from(JSON.stringify(["session", "sid"]))]));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const plaintext = Buffer.concat([decipher.update(sealed.subarray(21, sealed.length - 16)), decipher.final()]);
    expect(plaintext.readDoubleBE(0)).toBe(now + 60_000);
    expect(plaintext.toString("utf8", 8)).toBe("payload");
    const again = Buffer.from(new CookieStore({ secrets: [NEW] }).seal("payload", now + 60_000, "sid"), "base64url");
    expect(again.subarray(5, 21).equals(salt), "a fresh salt, so a fresh key, per seal").toBe(false);
  });

  it("opens a format-2 cookie (HKDF per cookie) as stale, bound to its name, and the next response re-seals it in format 3", async () => {
    const sessions = managerWith([NEW]);
    const now = Date.now();
    const v2 = sealV2(NEW, `${"t".repeat(43)}|${now}|{"user":"ada"}`, now + 60_000, "sid");
    expect(new CookieStore({ secrets: [NEW] }).open(v2, now, "sid")).toMatchObject({ stale: true, expiresAt: now + 60_000 });
    expect(new CookieStore({ secrets: [NEW] }).open(v2, now, "admin_sid"), "another cookie name").toBeNull();
    expect(new CookieStore({ secrets: [OLD] }).open(v2, now, "sid"), "another secret").toBeNull();
    await expectResealedInFormat3(sessions, v2);
  });

  it("opens a format-1 cookie (one key per secret) as stale, and the next response re-seals it in format 3", async () => {
    const sessions = managerWith([NEW]);
    const now = Date.now();
    const v1 = sealV1(NEW, `${"t".repeat(43)}|${now}|{"user":"ada"}`, now + 60_000);
    expect(new CookieStore({ secrets: [NEW] }).open(v1, now, "sid")).toMatchObject({ stale: true, expiresAt: now + 60_000 });
    await expectResealedInFormat3(sessions, v1);
  });

  it("acceptFormat1: false refuses a format-1 cookie (not bound to its name); formats 2 and 3 still open (issue 31)", async () => {
    const now = Date.now();
    const v1 = sealV1(NEW, `${"t".repeat(43)}|${now}|{"user":"ada"}`, now + 60_000);
    const strict = new CookieStore({ secrets: [NEW], acceptFormat1: false });
    expect(strict.open(v1, now, "sid")).toBeNull();
    expect(new CookieStore({ secrets: [NEW], acceptFormat1: true }).open(v1, now, "sid")).toMatchObject({ stale: true });
    const v3 = strict.seal("payload", now + 60_000, "sid");
    expect(strict.open(v3, now, "sid")).toMatchObject({ payload: "payload", stale: false });
    expect(() => new CookieStore({ secrets: [NEW], acceptFormat1: "no" as never })).toThrow(/option "acceptFormat1"/);
  });

  it("works unchanged through the Express 5 adapter on a real server", async () => {
    const sessions = managerWith([NEW]);
    const app = express();
    app.use(sessionMiddleware(sessions));
    app.get("/visit", (req, res) => {
      const visits = ((req.session.get("visits") as number | undefined) ?? 0) + 1;
      req.session.set("visits", visits);
      res.json({ visits });
    });
    app.get("/logout", async (req, res) => {
      await req.session.destroy();
      res.send("bye");
    });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      let cookie = "";
      for (let expected = 1; expected <= 3; expected++) {
        const response = await fetch(`${base}/visit`, { headers: cookie ? { cookie } : {} });
        expect(await response.json()).toEqual({ visits: expected });
        const setCookie = response.headers.getSetCookie()[0]!;
        expect(setCookie).toMatch(/HttpOnly/);
        expect(response.headers.get("cache-control")).toBe("no-store");
        cookie = setCookie.split(";")[0]!;
      }
      const logout = await fetch(`${base}/logout`, { headers: { cookie } });
      expect(logout.headers.getSetCookie()[0]).toMatch(/^sid=;.*Max-Age=0/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

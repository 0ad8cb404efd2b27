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

const NEW = "n".repeat(16) + "-new-secret-0123456789";
const OLD = "o".repeat(16) + "-old-secret-0123456789";
const FOREIGN = "f".repeat(16) + "-foreign-secret-012345";

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
    const a = store.seal("payload", Date.now() + 60_000);
    const b = store.seal("payload", Date.now() + 60_000);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(a).not.toContain("payload");
  });

  it("opens nothing, and never throws, when any character of a sealed cookie is changed", () => {
    const store = new CookieStore({ secrets: [NEW] });
    const now = Date.now();
    const sealed = store.seal(`${"t".repeat(43)}|${now}|{"user":"ada"}`, now + 60_000);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    fc.assert(
      fc.property(fc.nat(sealed.length - 1), fc.constantFrom(...alphabet), (position, replacement) => {
        fc.pre(sealed[position] !== replacement);
        const tampered = sealed.slice(0, position) + replacement + sealed.slice(position + 1);
        expect(store.open(tampered, now)).toBeNull();
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
      expect(store.open(flipped.toString("base64url"), Date.now()), `bit ${bit}`).toBeNull();
    }
    const fresh = await sessions.load(Buffer.from(bytes.map((b, i) => (i === 20 ? b ^ 1 : b))).toString("base64url"));
    expect(fresh.isNew, "the manager gives a fresh session for a tampered cookie").toBe(true);
    expect(fresh.get("user")).toBeUndefined();
  });

  it("opens nothing for truncated, extended, garbage or non-canonical values", async () => {
    const sessions = managerWith([NEW]);
    const cookie = await sealedSession(sessions);
    const store = new CookieStore({ secrets: [NEW] });
    for (let length = 0; length < cookie.length; length++) expect(store.open(cookie.slice(0, length), Date.now())).toBeNull();
    for (const junk of [cookie + "A", cookie + "==", ` ${cookie}`, cookie.replace(/.$/, "%"), "", "garbage", "x".repeat(5000), "\u0000"]) {
      expect(store.open(junk, Date.now()), JSON.stringify(junk.slice(0, 20))).toBeNull();
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (junk) => {
        expect(store.open(junk, Date.now())).toBeNull();
      }),
    );
  });

  it("opens nothing sealed with a foreign secret", async () => {
    const cookie = await sealedSession(managerWith([FOREIGN]));
    expect(new CookieStore({ secrets: [NEW, OLD] }).open(cookie, Date.now())).toBeNull();
    const fresh = await managerWith([NEW, OLD]).load(cookie);
    expect(fresh.isNew).toBe(true);
  });

  it("rotates secrets: an old cookie opens as stale and the next commit re-seals with the newest", async () => {
    const cookie = await sealedSession(managerWith([OLD]));
    const rotated = managerWith([NEW, OLD]);
    expect(new CookieStore({ secrets: [NEW, OLD] }).open(cookie, Date.now())?.stale).toBe(true);
    const session = await rotated.load(cookie);
    expect(session.get("user")).toBe("ada");
    const resealed = cookieValue(await rotated.commit(session)); // unmodified, yet re-sealed
    expect(new CookieStore({ secrets: [NEW] }).open(resealed, Date.now())?.stale).toBe(false);
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

  it("rejects missing or short secrets with a TypeError naming the option", () => {
    for (const secrets of [undefined, [], ["short"], [NEW, "short"], [NEW, 42]]) {
      expect(() => new CookieStore({ secrets } as never)).toThrow(TypeError);
      expect(() => new CookieStore({ secrets } as never)).toThrow(/option "secrets"/);
    }
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

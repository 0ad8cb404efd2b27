import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readCookie, resolveCookieOptions, serializeSessionCookie } from "../../src/core/cookies.js";
import { generateToken, isWellFormedToken, signToken, verifySignedToken } from "../../src/core/ids.js";

const base64url = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
const wellFormed = fc.string({ unit: base64url, minLength: 43, maxLength: 43 });
const SECRETS = ["secret S: 5b0e8d3a7c19f246 9d2c7e01a4b8", "secret T: c47a1e9b3d0f8265 1b6e9a3d07c4"];

describe("token validation (property)", () => {
  it("accepts exactly the 43-character base64url strings", () => {
    fc.assert(fc.property(wellFormed, (token) => isWellFormedToken(token)));
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), (value) => {
        expect(isWellFormedToken(value)).toBe(/^[A-Za-z0-9_-]{43}$/.test(value));
      }),
    );
  });

  it("generated tokens are well formed and distinct", () => {
    const seen = new Set(Array.from({ length: 1000 }, generateToken));
    expect(seen.size).toBe(1000);
    for (const token of seen) expect(isWellFormedToken(token)).toBe(true);
  });

  it("a signed token verifies, and any single-character change does not", () => {
    fc.assert(
      fc.property(wellFormed, fc.nat(), fc.string({ minLength: 1, maxLength: 1 }), (token, at, replacement) => {
        const signed = signToken(token, SECRETS);
        expect(verifySignedToken(signed, SECRETS)).toEqual({ token, stale: false });
        const i = at % signed.length;
        const changed = signed.slice(0, i) + replacement + signed.slice(i + 1);
        if (changed !== signed) expect(verifySignedToken(changed, SECRETS)).toBeNull();
      }),
    );
  });

  it("never throws on arbitrary input", () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (value) => verifySignedToken(value, SECRETS) === null || value.length === 87));
  });
});

describe("cookie parsing (property)", () => {
  const options = resolveCookieOptions({ name: "sid" });

  it("reads back the value it serialized, among arbitrary other cookies", () => {
    const otherName = fc.stringMatching(/^[a-z]{1,8}$/).filter((n) => n !== "sid");
    const otherValue = fc.stringMatching(/^[A-Za-z0-9]{0,16}$/);
    fc.assert(
      fc.property(wellFormed, fc.array(fc.tuple(otherName, otherValue), { maxLength: 5 }), (token, others) => {
        const pair = serializeSessionCookie(options, token, 60, false).split(";")[0]!;
        const parts = [...others.map(([n, v]) => `${n}=${v}`), pair];
        expect(readCookie(parts.join("; "), "sid")).toBe(token);
      }),
    );
  });

  it("never throws on an arbitrary Cookie header, and never returns a value for an absent name", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (header) => {
        const value = readCookie(header, "sid");
        if (!header.includes("sid")) expect(value).toBeUndefined();
      }),
    );
  });
});

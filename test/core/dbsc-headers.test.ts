import { describe, expect, it } from "vitest";
import { challengeHeaderValue, parseSfString, registrationHeaderValue, sfString } from "../../src/core/dbsc/headers.js";
import { boundCookieValid, boundCookieValue, issueChallenge, openChallenge } from "../../src/core/dbsc/tokens.js";

describe("DBSC Structured Field strings (RFC 9651 section 3.3.3)", () => {
  it("reads a quoted string, its escapes, and ignores parameters", () => {
    expect(parseSfString('"abc.def"')).toBe("abc.def");
    expect(parseSfString('"a\\"b\\\\c";x=1')).toBe('a"b\\c');
    expect(parseSfString(' "id" ')).toBe("id");
  });

  it("reads the bare JWT Chromium 156 sends", () => {
    expect(parseSfString("eyJh.eyJq.sig-_")).toBe("eyJh.eyJq.sig-_");
    expect(parseSfString("eyJh.eyJq.sig;p=1")).toBe("eyJh.eyJq.sig");
  });

  it("reads anything malformed as no header", () => {
    for (const value of ['"open', '"bad\\escape"', '"tab\there"', "sp ace", "", null, undefined, '"\u00e9"']) {
      expect(parseSfString(value)).toBeUndefined();
    }
  });

  it("writes the registration and challenge headers", () => {
    expect(registrationHeaderValue(["ES256", "RS256"], "/reg", "c1")).toBe('(ES256 RS256);path="/reg";challenge="c1"');
    expect(challengeHeaderValue("c2", "s")).toBe('"c2";id="s"');
    expect(sfString('a"b')).toBe('"a\\"b"');
    expect(() => sfString("line\nbreak")).toThrow(TypeError);
  });
});

describe("DBSC challenges and bound-cookie values", () => {
  const key = Buffer.alloc(32, 1);
  const other = Buffer.alloc(32, 2);

  it("opens only for its key, purpose and subject, until it expires", () => {
    const challenge = issueChallenge(key, "refresh", "s1", 2000);
    expect(openChallenge(key, "refresh", "s1", challenge, 1999)).toBe(2000);
    expect(openChallenge(key, "refresh", "s1", challenge, 2000)).toBeNull();
    expect(openChallenge(other, "refresh", "s1", challenge, 1000)).toBeNull();
    expect(openChallenge(key, "register", "s1", challenge, 1000)).toBeNull();
    expect(openChallenge(key, "refresh", "s2", challenge, 1000)).toBeNull();
    const [exp, nonce, tag] = challenge.split(".");
    expect(openChallenge(key, "refresh", "s1", `${(9999).toString(36)}.${nonce}.${tag}`, 1000)).toBeNull(); // a later expiry is not signed
    expect(openChallenge(key, "refresh", "s1", `${exp}.${nonce}`, 1000)).toBeNull();
    expect(openChallenge(key, "refresh", "s1", 42, 1000)).toBeNull();
  });

  it("a bound cookie is valid for its binding until its expiry", () => {
    const value = boundCookieValue(key, "s1", 5000);
    expect(boundCookieValid(key, "s1", value, 4999)).toBe(true);
    expect(boundCookieValid(key, "s1", value, 5000)).toBe(false);
    expect(boundCookieValid(other, "s1", value, 1)).toBe(false);
    expect(boundCookieValid(key, "s2", value, 1)).toBe(false);
    expect(boundCookieValid(key, "s1", `zzzz${value.slice(value.indexOf("."))}`, 1)).toBe(false);
    expect(boundCookieValid(key, "s1", undefined, 1)).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import { MAX_CANDIDATES, readCookieCandidates, verifiedCandidate } from "../../src/core/cookie-candidates.js";

describe("readCookieCandidates", () => {
  it("gives one value as a string, several different ones as an array, empty ones never", () => {
    expect(readCookieCandidates("a=1; sid=x", "sid")).toBe("x");
    expect(readCookieCandidates("sid=x; sid=x; sid=", "sid")).toBe("x");
    expect(readCookieCandidates("sid=x; xsid=y; sid=z; sid=x", "sid")).toEqual(["x", "z"]);
    expect(readCookieCandidates("xsid=1; sid2=2", "sid")).toBeUndefined();
    expect(readCookieCandidates(undefined, "sid")).toBeUndefined();
  });

  it("percent-decodes on request, as the cookie package does (legacy s%3A values)", () => {
    expect(readCookieCandidates("connect.sid=s%3Aabc.def; connect.sid=s:abc.def", "connect.sid", true)).toBe("s:abc.def");
    expect(readCookieCandidates("connect.sid=%zz", "connect.sid", true)).toBe("%zz");
  });
});

describe("verifiedCandidate, synchronous and asynchronous verifiers alike", () => {
  const verifiers = {
    sync: (valid: Set<string>) => (value: string) => (valid.has(value) ? `session ${value}` : null),
    async: (valid: Set<string>) => async (value: string) => (valid.has(value) ? `session ${value}` : null),
  };
  for (const [kind, make] of Object.entries(verifiers)) {
    it(`${kind}: junk is ignored, one verified value loads, two load none and report it`, async () => {
      let ambiguous = 0;
      const onAmbiguous = () => void ambiguous++;
      expect(await verifiedCandidate(["junk", "good", "x"], make(new Set(["good"])), onAmbiguous)).toBe("session good");
      expect(await verifiedCandidate(["junk", "x"], make(new Set()), onAmbiguous)).toBeNull();
      expect(ambiguous).toBe(0);
      expect(await verifiedCandidate(["a", "junk", "b"], make(new Set(["a", "b"])), onAmbiguous)).toBeNull();
      expect(ambiguous).toBe(1);
    });
  }

  it("stops at the second verified value, and verifies nothing past MAX_CANDIDATES values", async () => {
    const asked: string[] = [];
    const verify = async (value: string) => (asked.push(value), value.startsWith("ok") ? value : null);
    let ambiguous = 0;
    expect(await verifiedCandidate(["ok1", "ok2", "ok3"], verify, () => void ambiguous++)).toBeNull();
    expect(asked).toEqual(["ok1", "ok2"]);
    asked.length = 0;
    const many = Array.from({ length: MAX_CANDIDATES + 1 }, (_, i) => `v${i}`);
    expect(verifiedCandidate(many, verify, () => void ambiguous++)).toBeNull();
    expect(asked).toEqual([]);
    expect(ambiguous).toBe(2);
  });
});

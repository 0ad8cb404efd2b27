import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SessionManager } from "../../src/core/manager.js";
import { checkSecretList, estimatedBits } from "../../src/core/secrets.js";
import { CookieStore } from "../../src/stores/cookie.js";
import { MemoryStore } from "../../src/stores/memory.js";

describe("the secret estimator refuses sequences and repeated words (issue 31)", () => {
  const weak = [
    "0123456789abcdef0123456789abcdef",
    "abcdefghijklmnopqrstuvwxyz012345",
    "passwordpasswordpassword12345678",
    "zyxwvutsrqponmlkjihgfedcba987654",
    "hunter2hunter2hunter2hunter2hunter2",
    "correct horse correct horse correct horse",
  ];
  it.each(weak)("%s is refused by CookieStore and the manager", (secret) => {
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(() => new CookieStore({ secrets: [secret] })).toThrow(/too little variety.*openssl rand -base64 32/);
    expect(() => new SessionManager({ store: new MemoryStore(), secrets: [secret], gcInterval: 0 })).toThrow(/^option "secrets".*too little variety/);
  });

  it("passes CSPRNG secrets every time, and a passphrase without repeats", () => {
    for (let i = 0; i < 2000; i++) {
      for (const secret of [randomBytes(16).toString("hex"), randomBytes(24).toString("base64url"), randomBytes(32).toString("base64")]) {
        expect(estimatedBits(secret), secret).toBeGreaterThanOrEqual(72);
      }
    }
    expect(() => checkSecretList(["correct horse battery staple xyz"], "secrets")).not.toThrow();
  });

  it("counts a run or a repeat once: the rule as documented", () => {
    expect(estimatedBits("abcdefgh")).toBe(estimatedBits("ab"));
    expect(estimatedBits("qwer-tyui-qwer-tyui")).toBe(estimatedBits("qwer-tyui-"));
    expect(estimatedBits("x".repeat(40))).toBe(0);
  });
});

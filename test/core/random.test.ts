import { describe, expect, it } from "vitest";
import { randomBytesPooled } from "../../src/core/random.js";

describe("randomBytesPooled", () => {
  it("hands out each pooled byte once: no repeat across many pool refills", () => {
    const seen = new Set<string>();
    // 2,000 × 16 bytes crosses the 4 KiB pool about eight times, at offsets that do not divide it.
    for (let i = 0; i < 2000; i++) {
      const bytes = randomBytesPooled(i % 3 === 0 ? 16 : 12);
      expect(bytes.length).toBe(i % 3 === 0 ? 16 : 12);
      seen.add(bytes.toString("hex"));
    }
    expect(seen.size).toBe(2000);
  });

  it("returns copies the pool does not overwrite later", () => {
    const first = randomBytesPooled(32);
    const kept = Buffer.from(first);
    for (let i = 0; i < 300; i++) randomBytesPooled(32); // refills the pool at least once
    expect(first.equals(kept)).toBe(true);
    expect(first.equals(Buffer.alloc(32))).toBe(false);
  });

  it("serves sizes larger than the pool's slice limit straight from the generator", () => {
    const big = randomBytesPooled(5000);
    expect(big.length).toBe(5000);
    expect(big.equals(Buffer.alloc(5000))).toBe(false);
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeJsonMap, jsonCodec } from "../../src/core/codec.js";
import { SessionEncodeError } from "../../src/index.js";

const value = fc.oneof(fc.jsonValue(), fc.date({ noInvalidDate: true }), fc.constant(undefined));
const sessionData = fc.uniqueArray(fc.tuple(fc.string(), value), { selector: ([key]) => key, maxLength: 8 }).map((entries) => new Map(entries));
const decoded = (text: string) => new Map(Object.entries(jsonCodec.decode(text)));

describe("the session Map's JSON encoding (property)", () => {
  it("decodes to what jsonCodec.encode gives for the same data as an object", () => {
    fc.assert(
      fc.property(sessionData, (data) => {
        const direct = encodeJsonMap(data);
        expect(decoded(direct)).toEqual(decoded(jsonCodec.encode(Object.fromEntries(data))));
        for (const [key, stored] of data) {
          if (stored === undefined) expect(decoded(direct).has(key)).toBe(false);
          // JSON itself is the oracle for plain values (it writes -0 as 0, for one).
          else expect(decoded(direct).get(key)).toEqual(stored instanceof Date ? stored : JSON.parse(JSON.stringify(stored)));
        }
      }),
    );
  });

  it("writes strings, numbers and booleans byte for byte as JSON.stringify does (escapes, surrogates, -0, exponents)", () => {
    const text = fc.oneof(fc.string({ unit: "binary" }), fc.string({ unit: fc.constantFrom('"', "\\", "\n", "\u0000", "\u001f", "\u2028", "\ud800", "\udc00", "a") }));
    const plain = fc.oneof(text, fc.double(), fc.integer(), fc.boolean(), fc.constantFrom(-0, 1e21, 5e-324, Number.NaN, Infinity));
    const entries = fc.uniqueArray(fc.tuple(text, plain), { selector: ([key]) => key, maxLength: 8 });
    fc.assert(
      fc.property(entries, (pairs) => {
        // Object.fromEntries defines "__proto__" as plain data too.
        expect(encodeJsonMap(new Map(pairs))).toBe(JSON.stringify(Object.fromEntries(pairs)));
      }),
      { numRuns: 500 },
    );
  });

  it("names the key of a value JSON cannot hold, as jsonCodec.encode does", () => {
    const data = new Map<string, unknown>([["fine", 1], ["callback", () => {}]]);
    expect(() => encodeJsonMap(data)).toThrow(SessionEncodeError);
    expect(() => encodeJsonMap(data)).toThrow(/callback/);
    expect(() => jsonCodec.encode(Object.fromEntries(data))).toThrow(/callback/);
  });
});

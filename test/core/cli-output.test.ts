import { describe, expect, it } from "vitest";
import { table } from "../../src/cli/output.js";

describe("sessionkit list's table (issue 31)", () => {
  it("shows control characters and bidi overrides of stored strings as escapes, never raw", () => {
    const hostile = "curl\u001b[2J\u0007\r\u009b31m\u202eevil\u007f";
    const text = table(["HANDLE", "DEVICE"], [["h1", hostile]]);
    expect(text).toBe("HANDLE  DEVICE\nh1      curl\\x1b[2J\\x07\\x0d\\x9b31m\\u{202e}evil\\x7f");
    // eslint-disable-next-line no-control-regex -- the assertion is about control characters
    expect(text.replace(/\n/g, "")).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
  });

  it("leaves printable text, accents and emoji alone", () => {
    expect(table(["A"], [["Mozilla/5.0 (Macintosh) Safari — é 😀"]])).toBe("A\nMozilla/5.0 (Macintosh) Safari — é 😀");
  });
});

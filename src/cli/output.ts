/**
 * Human output: a plain text table, columns padded to their widest cell (no colours: output may be
 * piped). Cells hold stored strings (a User-Agent is whatever the client sent), so control
 * characters (C0, DEL, C1: ESC, BEL, CR, the one-byte CSI 0x9B) and bidirectional overrides are
 * shown as \xHH / \u{HHHH} escapes rather than sent to the terminal; `--json` escapes them too.
 */
export function table(headers: string[], cells: string[][]): string {
  const rows = cells.map((row) => row.map(escapeControls));
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** "2026-11-29 15:04 UTC": minutes are enough to tell devices apart, and UTC avoids a guess at the zone. */
export function shortTime(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function escapeControls(text: string): string {
  return text.replace(UNPRINTABLE, (char) => {
    const code = char.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
  });
}

/** Human output: a plain text table, columns padded to their widest cell (no colours: output may be piped). */
export function table(headers: string[], rows: string[][]): string {
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

import ms from "ms";

/** A duration: milliseconds, or a string such as "500ms", "90s", "30m", "24h", "7d". */
export type Duration = number | string;

/** Parses a duration option; throws a TypeError naming the option on anything else. */
export function toMilliseconds(value: Duration, option: string): number {
  const parsed = typeof value === "number" ? value : typeof value === "string" ? ms(value as ms.StringValue) : NaN;
  if (typeof parsed !== "number" || !Number.isFinite(parsed) || parsed < 0) {
    throw new TypeError(
      `option "${option}" must be a non-negative number of milliseconds or a string like "90s", "30m", "24h", "7d"; got ${JSON.stringify(value)}`,
    );
  }
  return Math.round(parsed);
}

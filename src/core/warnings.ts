/**
 * Once-per-process warnings for misconfigurations that cannot be refused outright (a running
 * app must keep working), in Node's own channel: `process.on("warning")`, `--no-warnings`.
 */
const warned = new Set<string>();

/** Emits `message` the first time `code` is seen in this process; later calls do nothing. */
export function warnOnce(code: string, message: string): void {
  if (warned.has(code)) return;
  warned.add(code);
  process.emitWarning(message, { type: "SessionkitWarning", code });
}

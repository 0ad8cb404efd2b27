/** A mistake on the command line: reported in one line with exit code 2 (as most CLIs do). */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * One line for a failure: the messages down the cause chain ("the session store failed: relation
 * "x" does not exist"), so the operator sees the driver's reason without a stack trace.
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  for (let current = error, depth = 0; current !== undefined && depth < 5; depth++) {
    const message = messageOf(current);
    if (message && !parts.some((part) => part.includes(message))) parts.push(message);
    // sessionkit's TypeErrors (misuse, a missing driver) are complete instructions: their cause is noise.
    current = current instanceof Error && !(current instanceof TypeError) ? current.cause : undefined;
  }
  return (parts.join(": ") || String(error)) + hint(error);
}

// PostgreSQL 42P01 undefined_table, MySQL 1146 ER_NO_SUCH_TABLE, SQLite's "no such table" (its code
// is the generic SQLITE_ERROR): most often a wrong --table.
const MISSING_TABLE = new Set(["42P01", "ER_NO_SUCH_TABLE"]);

function hint(error: unknown): string {
  for (let current = error; current instanceof Error; current = current.cause) {
    const missing = MISSING_TABLE.has((current as NodeJS.ErrnoException).code ?? "") || current.message.startsWith("no such table: ");
    if (missing) return " (check --table; `sessionkit schema --apply` creates it)";
  }
  return "";
}

// Node reports a refused connection to "localhost" (::1 and 127.0.0.1) as an AggregateError with no message.
function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // parseArgs appends a paragraph about "--" that does not help here.
  if ((error as NodeJS.ErrnoException).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return error.message.split(". To specify")[0]!;
  if (error.message) return error.message;
  if (error instanceof AggregateError && error.errors.length > 0) return messageOf(error.errors[0]);
  return (error as NodeJS.ErrnoException).code ?? error.name;
}

/**
 * What the SQL stores (PostgreSQL, MySQL, SQLite) share: option checks and the row-to-record
 * mapping of their common table shape (`key`, `data`, `expires_at`, `version`, `user_id`).
 * Internal: not exported from the package.
 */
import type { Awaitable, StoredSession } from "../../core/store.js";

// At most 63 characters (PostgreSQL's NAMEDATALEN - 1, the smallest limit of the three); anything
// that would need quoting or escaping is refused, so a validated name is safe in SQL text.
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** The name itself, validated; the caller quotes it in its dialect. */
export function checkIdentifier(value: unknown, option: string): string {
  if (typeof value !== "string" || !IDENTIFIER.test(value)) {
    throw new TypeError(`option "${option}" must match ${String(IDENTIFIER)} (letters, digits, underscore); got ${JSON.stringify(value)}`);
  }
  return value;
}

export function checkBatchSize(value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`option "gcBatchSize" must be a positive whole number; got ${String(value)}`);
  }
  return value;
}

/** A row's columns other than `data`, whose type differs by driver (bytes, text). */
export interface RowMeta {
  expires_at: number | string | bigint;
  version: number | bigint;
  user_id: string | null;
}

export function recordOf(row: RowMeta, data: string): StoredSession {
  const record: StoredSession = { data, expiresAt: Number(row.expires_at), version: Number(row.version) };
  if (row.user_id !== null) record.owner = row.user_id;
  return record;
}

/**
 * gc: deletes expired rows one batch (one statement, its own transaction) at a time until a batch
 * comes back short, so no run holds locks on a huge set of rows. `pause` runs between batches.
 */
export async function deleteInBatches(batchSize: number, deleteBatch: () => Awaitable<number>, pause?: () => Promise<void>): Promise<number> {
  let removed = 0;
  for (;;) {
    const deleted = await deleteBatch();
    removed += deleted;
    if (deleted < batchSize) return removed;
    await pause?.();
  }
}

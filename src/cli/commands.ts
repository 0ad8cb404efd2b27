/**
 * The operator commands. Each works through the public SessionManager API, so the CLI sees the
 * store exactly as the application does (hashed ids, expiry, the per-user index).
 */
import { SessionManager } from "../core/manager.js";
import type { SessionStore } from "../core/store.js";
import { UsageError } from "./errors.js";
import { plural, shortTime, table } from "./output.js";
import type { StoreKind } from "./store.js";

export interface CommandContext {
  manager: SessionManager;
  store: SessionStore;
  kind: StoreKind;
  json: boolean;
  user?: string;
  handle?: string;
  except?: string;
  apply: boolean;
  /** Progress lines (stderr), so stdout stays the result alone. */
  progress: (line: string) => void;
}

export type Command = (context: CommandContext) => Promise<string>;

export const COMMANDS: Record<string, Command> = { count, gc, list, revoke, schema };

async function count({ manager, json }: CommandContext): Promise<string> {
  const live = await manager.count();
  return json ? JSON.stringify({ count: live }) : plural(live, "live session");
}

const PROGRESS_EVERY_MS = 5000;

async function gc({ manager, json, progress }: CommandContext): Promise<string> {
  const started = Date.now();
  progress("gc: deleting expired sessions…");
  // The store deletes in batches inside one call; a heartbeat shows a long run is alive.
  const heartbeat = setInterval(() => progress(`gc: still running (${Math.round((Date.now() - started) / 1000)} s)`), PROGRESS_EVERY_MS);
  try {
    const removed = await manager.gc();
    progress(`gc: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return json ? JSON.stringify({ removed }) : `removed ${plural(removed, "expired session")}`;
  } finally {
    clearInterval(heartbeat);
  }
}

async function list({ manager, json, user }: CommandContext): Promise<string> {
  const sessions = await manager.listSessions(required(user, "--user", "list"));
  if (json) return JSON.stringify(sessions);
  if (sessions.length === 0) return `no live sessions of user ${JSON.stringify(user)}`;
  const rows = sessions.map((s) => [s.handle, s.userAgent ?? "", s.ip ?? "", shortTime(s.signedInAt), shortTime(s.lastSeenAt), shortTime(s.expiresAt)]);
  return table(["HANDLE", "DEVICE", "IP", "SIGNED IN", "LAST SEEN", "EXPIRES"], rows);
}

async function revoke({ manager, json, user, handle, except }: CommandContext): Promise<string> {
  const userId = required(user, "--user", "revoke");
  if (handle !== undefined && except !== undefined) throw new UsageError("revoke: give --handle (end one session) or --except (end all others), not both");
  if (handle !== undefined) {
    const ended = await manager.revokeSession(userId, handle);
    if (!ended) throw new Error(`user ${JSON.stringify(userId)} has no live session with handle ${JSON.stringify(handle)}`);
    return json ? JSON.stringify({ revoked: 1 }) : "revoked 1 session";
  }
  const revoked = await manager.revokeUser(userId, except === undefined ? {} : { except });
  return json ? JSON.stringify({ revoked }) : `revoked ${plural(revoked, "session")} of user ${JSON.stringify(userId)}`;
}

/** A SQL store's own DDL (the statements its `createTable` runs): the CLI keeps no copy of it. */
interface SchemaStore {
  schemaStatements(): string[];
  /** Statements to run once on an older table, when they cannot be written idempotently (MySQL 8). */
  upgradeStatements?(): string[];
  applySchema(): Promise<void>;
}

function hasSchema(store: SessionStore): store is SessionStore & SchemaStore {
  const candidate = store as Partial<SchemaStore>;
  return typeof candidate.schemaStatements === "function" && typeof candidate.applySchema === "function";
}

async function schema({ store, kind, json, apply }: CommandContext): Promise<string> {
  if (!hasSchema(store)) throw new UsageError(`schema: only SQL stores (postgres, mysql, sqlite) have a schema; the ${kind} store needs none`);
  const statements = store.schemaStatements();
  const upgrade = store.upgradeStatements?.() ?? [];
  if (apply) await store.applySchema();
  if (json) return JSON.stringify({ statements, upgrade, applied: apply });
  const sql = (list: string[]) => list.map((statement) => `${statement};`).join("\n\n");
  const parts = [sql(statements)];
  if (upgrade.length > 0) parts.push(`-- A table made by sessionkit 0.1 needs this once (--apply checks and runs it):\n${sql(upgrade).replace(/^/gm, "-- ")}`);
  if (apply) parts.push("-- applied");
  return parts.join("\n\n");
}

function required(value: string | undefined, option: string, command: string): string {
  if (value === undefined || value === "") throw new UsageError(`${command} needs ${option}`);
  return value;
}

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { SessionManagerOptions } from "sessionkit";
import { FileStore } from "sessionkit/file";
import { SqliteStore, nodeSqliteAvailable } from "sessionkit/sqlite";

export interface DemoStore {
  options: Pick<SessionManagerOptions, "store" | "provider" | "providerConfig">;
  /** Where sessions live, for the demo's first log line. */
  description: string;
}

/**
 * Which store the demo runs on: SESSION_STORE=redis://…, postgres://…, mysql://…, sqlite:///… picks
 * one through its provider name. Otherwise the embedded default, in SESSION_DIR (./.sessions): one
 * SQLite file through node:sqlite where this Node has it (22.13+), else the file store. Both
 * survive a restart of the demo.
 */
export function demoStore(): DemoStore {
  const url = process.env.SESSION_STORE;
  if (url) {
    const scheme = url.slice(0, url.indexOf(":"));
    const provider = { redis: "redis", rediss: "redis", postgres: "postgresql", postgresql: "postgresql", mysql: "mysql", sqlite: "sqlite" }[scheme];
    if (!provider) throw new Error(`SESSION_STORE must be a redis://, postgres://, mysql:// or sqlite:/// URL; got ${url}`);
    return { options: { provider, providerConfig: url }, description: `the ${provider} store at ${url}` };
  }
  const dir = process.env.SESSION_DIR ?? "./.sessions";
  if (nodeSqliteAvailable()) {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, "sessions.db");
    return { options: { store: new SqliteStore({ path }) }, description: `SQLite (node:sqlite) in ${path}` };
  }
  return { options: { store: new FileStore({ dir }) }, description: `the file store in ${dir} (node:sqlite needs Node 22.13+; this is ${process.version})` };
}

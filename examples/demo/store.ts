import type { SessionManagerOptions } from "sessionkit";
import { FileStore } from "sessionkit/file";

/**
 * Which store the demo runs on: SESSION_STORE=redis://…, postgres://…, mysql://… picks a server
 * through its provider name; otherwise the embedded default, files in SESSION_DIR (./.sessions).
 */
export function demoStore(): Pick<SessionManagerOptions, "store" | "provider" | "providerConfig"> {
  const url = process.env.SESSION_STORE;
  if (!url) return { store: new FileStore({ dir: process.env.SESSION_DIR ?? "./.sessions" }) };
  const scheme = url.slice(0, url.indexOf(":"));
  const provider = { redis: "redis", rediss: "redis", postgres: "postgresql", postgresql: "postgresql", mysql: "mysql" }[scheme];
  if (!provider) throw new Error(`SESSION_STORE must be a redis://, postgres:// or mysql:// URL; got ${url}`);
  return { provider, providerConfig: url };
}

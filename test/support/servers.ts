/**
 * Which real servers the tests use, and what happens when one is missing:
 * with CI=true an unreachable server fails the run; on a laptop the suite is skipped
 * with one loud line naming the server and the variable to set.
 */
import { connect } from "node:net";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const POSTGRES_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const MYSQL_URL = process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";
/** Comma-separated host:port list of the Redis Cluster masters that .ci/run starts. */
export const REDIS_CLUSTER_NODES = process.env.REDIS_CLUSTER_NODES ?? "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103";

function reachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * Resolves true when the server at `url` (or host:port) accepts connections. Otherwise throws
 * under CI=true, and elsewhere prints one loud line and resolves false (the caller skips).
 */
export async function serverAvailable(name: string, variable: string, url: string): Promise<boolean> {
  const { hostname, port } = url.includes("://") ? new URL(url) : new URL(`tcp://${url}`);
  const host = hostname.replace(/^\[|\]$/g, "");
  if (await reachable(host, Number(port))) return true;
  const message = `${name} is not reachable at ${url}: set ${variable} to a running server`;
  if (process.env.CI === "true") throw new Error(`${message} (CI=true: a missing server fails the run)`);
  console.warn(`\n!!! SKIPPING the ${name} tests: ${message}.\n`);
  return false;
}

/** A free TCP port on 127.0.0.1, for tests that start their own server instance. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    import("node:net").then(({ createServer }) => {
      const server = createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    }, reject);
  });
}

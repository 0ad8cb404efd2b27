/**
 * Small helpers shared by the harness, the contestant servers and the micro benchmarks.
 * Peer libraries and sessionkit modules that may not exist yet are loaded by computed
 * specifiers, so a missing or half-written file marks a contestant unavailable instead of
 * breaking the type check or the run.
 */
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The checkout's root: the nearest folder up with a package.json (this file also runs compiled, from bench/.build/). */
export const REPO_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(start: string): string {
  let folder = start;
  while (!existsSync(join(folder, "package.json"))) {
    const parent = dirname(folder);
    if (parent === folder) throw new Error(`no package.json above ${start}`);
    folder = parent;
  }
  return folder;
}

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const POSTGRES_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const MYSQL_URL = process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";

/** DynamoDB's endpoint: DYNAMODB_URL when given, else the dynalite `npm run bench` starts (bench/dynalite.ts) sets it. */
export const dynamodbUrl = (): string => process.env.DYNAMODB_URL ?? "http://127.0.0.1:4567";

export type Service = "redis" | "postgres" | "mysql" | "dynamodb";
/** Read when asked, not at import: the harness sets DYNAMODB_URL once its dynalite listens. */
export function serviceUrl(service: Service): string {
  if (service === "dynamodb") return dynamodbUrl();
  return { redis: REDIS_URL, postgres: POSTGRES_URL, mysql: MYSQL_URL }[service];
}

/** Imports a module whose shape the caller states; the specifier is computed so TypeScript does not resolve it. */
export async function importAs<T>(specifier: string): Promise<T> {
  return (await import(specifier)) as T;
}

/** A built sessionkit file (`dist/...`, what users run), typed by the caller's minimal interface. */
export function importSessionkit<T>(relativePath: string): Promise<T> {
  return importAs<T>(pathToFileURL(join(REPO_ROOT, relativePath)).href);
}

export function sessionkitFileExists(relativePath: string): boolean {
  return existsSync(join(REPO_ROOT, relativePath));
}

export function packageVersion(name: string): string {
  try {
    const text = readFileSync(join(REPO_ROOT, "node_modules", name, "package.json"), "utf8");
    return (JSON.parse(text) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

/** True when something accepts TCP connections at the URL's host and port. */
export function reachable(url: string, timeoutMs = 1000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

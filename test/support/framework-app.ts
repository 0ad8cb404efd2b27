/**
 * Builds a framework app under test/apps/ with its own CLI, then serves it on a spare port of
 * 127.0.0.1 as its users would (`next start`, `react-router-serve`), for tests that drive it
 * with fetch.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createServer } from "node:net";
import { setPriority } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const root = join(import.meta.dirname, "..", "..");
export const binOf = (name: string) => join(root, "node_modules", ".bin", name);
export const appDir = (name: string) => join(root, "test", "apps", name);

/** Offline and quiet: no telemetry, no update checks. */
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1", NODE_ENV: "production" };

/**
 * A production build takes every core for a minute or more; at the lowest priority it leaves
 * the CPU to the test files running beside it (timing-sensitive store tests among them).
 */
export async function buildApp(cwd: string, command: string, args: string[]): Promise<void> {
  const build = promisify(execFile)(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });
  if (build.child.pid !== undefined) setPriority(build.child.pid, 19);
  try {
    await build;
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed:\n${stdout}\n${stderr}`, { cause: error });
  }
}

export function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export interface ServedApp {
  url: string;
  /** What the server has printed so far (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
}

/** Starts the server and resolves once it answers HTTP at `url`. */
export async function serveApp(cwd: string, command: string, args: string[], url: string, extraEnv: Record<string, string> = {}): Promise<ServedApp> {
  const child = spawn(command, args, { cwd, env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk));
  const stop = () => stopChild(child);
  for (let attempt = 0; attempt < 300; attempt++) {
    if (child.exitCode !== null) throw new Error(`${command} exited with ${child.exitCode}:\n${output}`);
    if (await answers(url)) return { url, output: () => output, stop };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error(`${command} did not answer at ${url} within 30 s:\n${output}`);
}

async function answers(url: string): Promise<boolean> {
  try {
    await fetch(url, { redirect: "manual" });
    return true;
  } catch {
    return false;
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/**
 * The DynamoDB the benchmark runs against: dynalite (DynamoDB's API on LevelDB, from the npm
 * registry), started by the harness when a selected contestant needs it and DYNAMODB_URL names
 * none. It runs in a process of its own, so its CPU (milliseconds per request) never counts in a
 * contestant's CPU per request, as a Redis or PostgreSQL server's does not. Tables become ACTIVE
 * at once (createTableMs 0); the data lives in a temporary LevelDB directory, removed afterwards.
 */
import type { ChildProcess } from "node:child_process";
import { fork } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Contestant } from "./http/contestants.js";
import { reachable, REPO_ROOT, sleep } from "./lib.js";

const START_TIMEOUT_MS = 20_000;

/** Starts dynalite when a contestant needs DynamoDB and none is configured; the returned function stops it. */
export async function startDynaliteIfNeeded(contestants: Contestant[]): Promise<() => Promise<void>> {
  const needed = contestants.some((c) => c.needsServices.includes("dynamodb"));
  if (!needed || process.env.DYNAMODB_URL) return async () => {};
  const dir = await mkdtemp(join(tmpdir(), "sessionkit-bench-dynalite-"));
  const port = await freePort();
  const cli = join(REPO_ROOT, "node_modules", "dynalite", "cli.js");
  const options = ["--host", "127.0.0.1", "--port", String(port), "--path", dir, "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"];
  const child = fork(cli, options, { stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  if (!(await listening(url, child))) {
    await stop();
    console.log(`dynalite did not start: DynamoDB contestants will be skipped`);
    return async () => {};
  }
  // Forked contestant servers inherit the harness's environment, so they reach this dynalite.
  process.env.DYNAMODB_URL = url;
  console.log(`dynalite ${url} (LevelDB in ${dir})`);
  return stop;
}

async function listening(url: string, child: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && child.exitCode === null) {
    if (await reachable(url, 200)) return true;
    await sleep(50);
  }
  return false;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill();
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

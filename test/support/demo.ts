import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./servers.js";

export interface RunningDemo {
  base: string;
  port: number;
  sessionDir: string;
  /** The demo's first log line: its URL and where sessions live. */
  firstLine: string;
  /** Stops the demo and waits until it has exited, keeping its session directory. */
  halt(): Promise<void>;
  /** Stops the demo and removes its session directory. */
  stop(): void;
}

/**
 * `npm start` as a user runs it (the embedded default store), on a free port and a fresh directory,
 * or on `sessionDir` to start it again over the sessions of an earlier run.
 */
export async function startDemo(sessionDir = mkdtempSync(join(tmpdir(), "sessionkit-demo-"))): Promise<RunningDemo> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "examples/demo/server.ts"], {
    env: { ...process.env, PORT: String(port), SESSION_DIR: sessionDir, SESSION_STORE: "" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = once(child, "exit");
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
  while (!output.includes("sessionkit demo on")) {
    const [event] = await Promise.race([once(child.stdout!, "data").then(() => ["data"]), exited.then(() => ["exit"])]);
    if (event === "exit") throw new Error(`the demo exited before listening: ${output}`);
  }
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    sessionDir,
    firstLine: output.split("\n")[0]!,
    async halt() {
      child.kill("SIGTERM");
      await exited;
    },
    stop() {
      child.kill("SIGTERM");
      rmSync(sessionDir, { recursive: true, force: true });
    },
  };
}

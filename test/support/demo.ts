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
  stop(): void;
}

/** `npm start` as a user runs it (the embedded file store), on a free port and a fresh directory. */
export async function startDemo(): Promise<RunningDemo> {
  const port = await freePort();
  const sessionDir = mkdtempSync(join(tmpdir(), "sessionkit-demo-"));
  const child = spawn(process.execPath, ["--import", "tsx", "examples/demo/server.ts"], {
    env: { ...process.env, PORT: String(port), SESSION_DIR: sessionDir, SESSION_STORE: "" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
  while (!output.includes("sessionkit demo on")) {
    const [event] = await Promise.race([once(child.stdout!, "data").then(() => ["data"]), once(child, "exit").then(() => ["exit"])]);
    if (event === "exit") throw new Error(`the demo exited before listening: ${output}`);
  }
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    sessionDir,
    stop() {
      child.kill("SIGTERM");
      rmSync(sessionDir, { recursive: true, force: true });
    },
  };
}

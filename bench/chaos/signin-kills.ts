/**
 * Sign-ins killed mid-way (issue 26, item 9): a worker signs one user in again and again, with a
 * cap of 3, and is SIGKILLed at random instants. A record no client received is pending and ends
 * within the pending window; an owner index entry whose record never came goes at the next gc()
 * (or, on Redis, the next listing) once it is a minute old. Reported per store: the user's
 * sessions listed right after the kills and once the window has passed (at most the cap), and the
 * index entries left without a record after one gc() and one listing.
 */
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PENDING_GRACE_MS } from "../../src/core/store.js";
import { SessionManager } from "../../src/index.js";
import { progress, sleep } from "./harness.js";
import { openStore } from "./signin-stores.js";

export interface SigninKillsReport {
  store: string;
  kills: number;
  listedAfterKills: number;
  listedAfterWindow: number;
  /** undefined where the records are their own index (SQL, SQLite). */
  orphanEntries: number | undefined;
}

const WORKER = fileURLToPath(new URL("./signin-worker.ts", import.meta.url));
const CAP = 3;

export async function signinKills(kind: string, kills: number): Promise<SigninKillsReport> {
  const run = `crash_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const dir = kind === "file" || kind === "sqlite" ? mkdtempSync(join(tmpdir(), "sessionkit-signin-kills-")) : undefined;
  const where = kind === "file" ? dir! : kind === "sqlite" ? join(dir!, "sessions.db") : kind === "redis" ? `${run}:` : run;
  const userId = `${run}@example.com`;
  for (let i = 0; i < kills; i++) {
    const worker = await startWorker(kind, where, userId);
    await sleep(100 + Math.random() * 400); // a random instant of the sign-in loop
    worker.kill("SIGKILL");
    await once(worker, "exit");
  }
  const { store, indexEntries } = await openStore(kind, where);
  const sessions = new SessionManager({ store, gcInterval: 0 });
  try {
    const listedAfterKills = (await sessions.listSessions(userId)).length;
    progress(`signin-kills ${kind}: ${listedAfterKills} listed after ${kills} kills; waiting out the pending window`);
    await sleep(PENDING_GRACE_MS + 2000);
    await sessions.gc();
    const listedAfterWindow = (await sessions.listSessions(userId)).length;
    const entries = await indexEntries();
    if (listedAfterWindow > CAP) throw new Error(`${kind}: ${listedAfterWindow} sessions listed after the pending window, over the cap of ${CAP}`);
    return { store: kind, kills, listedAfterKills, listedAfterWindow, orphanEntries: entries === undefined ? undefined : entries - listedAfterWindow };
  } finally {
    await dropAll(kind, where, store);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

async function startWorker(kind: string, where: string, userId: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", WORKER, kind, where, userId], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
    child.once("exit", (code) => reject(new Error(`the ${kind} sign-in worker exited (${code}) before it was ready`)));
  });
  return child;
}

/** Removes what the run wrote in the shared servers (its table, its keys), then closes the store. */
async function dropAll(kind: string, where: string, store: { close?(): unknown }): Promise<void> {
  if (kind === "postgres") {
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test" });
    await client.connect();
    await client.query(`DROP TABLE IF EXISTS "${where}"`);
    await client.end();
  } else if (kind === "mysql") {
    const mysql = await import("mysql2/promise");
    const connection = await mysql.createConnection(process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test");
    await connection.query(`DROP TABLE IF EXISTS \`${where}\``);
    await connection.end();
  } else if (kind === "redis") {
    const { createClient } = await import("redis");
    const client = createClient({ url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" });
    await client.connect();
    for await (const keys of client.scanIterator({ MATCH: `${where}*` })) for (const key of [keys].flat()) await client.del(key);
    await client.close();
  }
  await store.close?.();
}

export function signinKillsTable(reports: SigninKillsReport[]): string {
  const rows = reports.map((r) => `| ${r.store} | ${r.kills} | ${r.listedAfterKills} | ${r.listedAfterWindow} | ${r.orphanEntries ?? "— (the records are the index)"} |`);
  return [`| store | SIGKILLs | listed right after | listed after the pending window + gc (cap ${CAP}) | index entries without a record |`, "|---|---|---|---|---|", ...rows].join("\n");
}

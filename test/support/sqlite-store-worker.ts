/**
 * A child process for test/sqlite-store.test.ts, run with `node --import tsx`.
 *   increment <driver> <file> <count> : after "go" on stdin, adds 1 to the counter record "counter"
 *     <count> times by compare-and-set (re-read and retry when a write is not applied).
 *   write <driver> <file> : writes new records k0, k1, … with big payloads until killed, printing
 *     "ack <i>" once the store has acknowledged k<i>.
 * <driver> is "path" (the store opens the file itself), "better-sqlite3" or "libsql".
 * Prints "ready" once set up, so the parent times its SIGKILL or its "go" from a known point.
 */
import { SqliteStore } from "../../src/stores/sqlite.js";
import { openConnection, sqlitePayload } from "./sqlite.js";

const [mode, driver, file, count] = process.argv.slice(2);
const store = driver === "path" ? new SqliteStore({ path: file! }) : new SqliteStore({ database: await openConnection(driver!, file!) });

async function increment(times: number): Promise<void> {
  process.stdout.write("ready\n");
  await new Promise((resolve) => process.stdin.once("data", resolve));
  let conflicts = 0;
  for (let done = 0; done < times; ) {
    const current = (await store.get("counter"))!;
    const write = { data: String(Number(current.data) + 1), expiresAt: current.expiresAt, version: current.version + 1, expectedVersion: current.version };
    if (await store.set("counter", write)) done++;
    else conflicts++;
  }
  process.stdout.write(`conflicts ${conflicts}\n`);
}

async function write(): Promise<void> {
  process.stdout.write("ready\n");
  for (let i = 0; ; i++) {
    const written = await store.set(`k${i}`, { data: sqlitePayload(i), expiresAt: Date.now() + 3_600_000, version: 1, expectedVersion: 0 });
    if (!written) throw new Error(`k${i} was not written`);
    process.stdout.write(`ack ${i}\n`);
  }
}

if (mode === "increment") await increment(Number(count));
else if (mode === "write") await write();
else throw new Error(`unknown mode ${String(mode)}`);
await store.close();
process.exit(0);

/**
 * A child process for test/file-store.test.ts, run with `node --import tsx`.
 *   rewrite <dir> <keys> : rewrites those keys in a loop with big payloads until killed.
 *   commit <dir> <token> <worker> <count> : after "go" on stdin, commits <count> distinct keys to one session.
 * Prints "ready" once set up, so the parent times its SIGKILL or its "go" from a known point.
 */
import { SessionManager } from "../../src/core/manager.js";
import { FileStore } from "../../src/stores/file.js";

const [mode, dir, ...rest] = process.argv.slice(2);
const store = new FileStore({ dir: dir! });

/** The payload written in round `round` for `key`: its length and content both vary. */
function payloadFor(key: string, round: number): string {
  return `${key}:${round}:` + "é🌍x".repeat(20_000 + (round % 7) * 10_000) + `:end:${round}`;
}

async function rewrite(keys: string[]): Promise<void> {
  const versions = new Map<string, number>();
  for (const key of keys) versions.set(key, (await store.get(key))?.version ?? 0);
  process.stdout.write("ready\n");
  for (let round = 0; ; round++) {
    for (const key of keys) {
      const expected = versions.get(key)!;
      const write = { data: payloadFor(key, round), expiresAt: Date.now() + 3_600_000, version: expected + 1, expectedVersion: expected };
      if (!(await store.set(key, write))) throw new Error(`unexpected conflict on ${key}`);
      versions.set(key, expected + 1);
    }
  }
}

async function commit(token: string, worker: string, count: number): Promise<void> {
  const sessions = new SessionManager<Record<string, unknown>>({ store, gcInterval: 0 });
  process.stdout.write("ready\n");
  await new Promise((resolve) => process.stdin.once("data", resolve));
  for (let i = 0; i < count; i++) {
    const session = await sessions.load(token);
    if (session.isNew) throw new Error("the shared session did not load");
    session.set(`w${worker}-${i}`, i);
    await sessions.commit(session);
  }
  await sessions.close();
}

if (mode === "rewrite") await rewrite(rest[0]!.split(","));
else if (mode === "commit") await commit(rest[0]!, rest[1]!, Number(rest[2]));
else throw new Error(`unknown mode ${String(mode)}`);
process.exit(0);

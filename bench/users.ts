/**
 * What the per-user calls cost on every server store, through the manager (src/):
 *
 *   npx tsx bench/users.ts [--only redis,postgres] [--rounds 30]
 *
 * - signIn (new session): load, signIn, commit — index entry + record write.
 * - signIn (stored session): the rotation — index entry, new record, retire and delete the old.
 * - listSessions: a user with 10 live sessions.
 * - revokeUser: a user with 100 live sessions.
 * - round trips of one request of a signed-in session (read; write), counted on a GatedStore:
 *   the same as for an anonymous session is the promise.
 * Medians in ms; the machine is shared and noisy, so compare stores within one run.
 */
import { SessionManager } from "../src/index.js";
import { GatedStore } from "../src/testing/index.js";
import { targets } from "./targets.js";

const args = process.argv.slice(2);
const only = args.includes("--only") ? args[args.indexOf("--only") + 1]!.split(",") : undefined;
const ROUNDS = args.includes("--rounds") ? Number(args[args.indexOf("--rounds") + 1]) : 30;

type Manager = SessionManager<Record<string, unknown>>;
const tokenOf = (cookies: string[]) => /^sid=([^;]*)/.exec(cookies[0] ?? "")?.[1] ?? "";

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Median ms of `run`; a run that resolves to a number measured only its own part (no setup). */
async function timed(rounds: number, run: (round: number) => Promise<number | void>): Promise<number> {
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    const own = await run(round);
    times.push(typeof own === "number" ? own : performance.now() - start);
  }
  return median(times);
}

async function signedIn(sessions: Manager, userId: string): Promise<string> {
  const session = await sessions.load();
  await session.signIn(userId);
  return tokenOf(await sessions.commit(session));
}

async function roundTrips(gated: GatedStore, sessions: Manager, token: string, change: boolean): Promise<string> {
  gated.calls.length = 0;
  const session = await sessions.load(token);
  if (change) session.set("n", Date.now());
  await sessions.commit(session);
  return gated.calls.map((call) => call.split(" ")[0]).join("+") || "none";
}

const rows: string[][] = [];
for (const target of targets) {
  if (only && !only.some((name) => target.name.startsWith(name))) continue;
  process.stderr.write(`[users] ${target.name}\n`);
  const { store, cleanup } = await target.open();
  const gated = new GatedStore(store);
  const sessions: Manager = new SessionManager({ store: gated, gcInterval: 0 });
  try {
    const fresh = await timed(ROUNDS, async (round) => void (await signedIn(sessions, `fresh-${round}`)));
    const stored = await timed(ROUNDS, async (round) => {
      const anonymous = await sessions.load();
      anonymous.set("cart", [round]);
      const session = await sessions.load(tokenOf(await sessions.commit(anonymous)));
      const start = performance.now();
      await session.signIn(`stored-${round}`);
      await sessions.commit(session);
      return performance.now() - start;
    });
    for (let i = 0; i < 10; i++) await signedIn(sessions, "ten");
    const list = await timed(ROUNDS, async () => void (await sessions.listSessions("ten")));
    const revoke = await timed(Math.max(3, Math.round(ROUNDS / 10)), async (round) => {
      const user = `hundred-${round}`;
      await Promise.all(Array.from({ length: 100 }, () => signedIn(sessions, user)));
      const start = performance.now();
      const ended = await sessions.revokeUser(user);
      if (ended !== 100) throw new Error(`revokeUser ended ${ended} of 100`);
      return performance.now() - start;
    });
    const token = await signedIn(sessions, "trips");
    const read = await roundTrips(gated, sessions, token, false);
    const write = await roundTrips(gated, sessions, token, true);
    rows.push([target.name, fresh.toFixed(2), stored.toFixed(2), list.toFixed(2), revoke.toFixed(1), read, write]);
  } finally {
    await sessions.close();
    await cleanup();
  }
}

console.log("| store | signIn, new session (ms) | signIn, stored session (ms) | listSessions, 10 (ms) | revokeUser, 100 (ms) | signed-in read | signed-in write |");
console.log("|---|---:|---:|---:|---:|---|---|");
for (const row of rows) console.log(`| ${row.join(" | ")} |`);

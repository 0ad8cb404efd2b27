/**
 * Stress of the no-lost-update and logout-is-final promises on every server store, through the
 * manager (src/, not dist/: this measures correctness, not speed).
 *
 *   npx tsx bench/stress.ts            # 20 rounds per scenario
 *   npx tsx bench/stress.ts --quick    # 3 rounds per scenario
 *   npx tsx bench/stress.ts --only redis,postgres
 *
 * Scenarios, each on a fresh session per round:
 * - writers ×50 / ×150: that many requests load one session at once and each commits its own key.
 *   A "lost key" is a key whose commit resolved but which the final load does not have.
 * - destroy vs writers: 20 requests load the session; one destroys it while the others commit.
 *   "Revived" counts rounds where the destroyed token loads again afterwards.
 * - logout vs regenerate: A and B load; A destroys, B regenerates, both commit at once. "Revived"
 *   counts rounds where the old token, or the id B's commit handed out, loads the data afterwards.
 * SessionConflictError (ERR_SESSION_CONFLICT) is the documented way for a commit to give up; any
 * other rejection is counted under "other errors" with its first message.
 */
import { SessionManager } from "../src/index.js";
import type { Target } from "./targets.js";
import { targets } from "./targets.js";

const args = process.argv.slice(2);
const ROUNDS = args.includes("--quick") ? 3 : 20;
const only = args.includes("--only") ? args[args.indexOf("--only") + 1]!.split(",") : undefined;

interface Tally {
  rounds: number;
  commits: number;
  lostKeys: number;
  revived: number;
  conflicts: number;
  otherErrors: number;
  firstError?: string;
  ms: number;
}


type Manager = SessionManager<Record<string, unknown>>;
const tokenOf = (cookies: string[]) => /^sid=([^;]+)/.exec(cookies[0] ?? "")?.[1];

/** Records one commit's rejection in the tally. */
function failed(tally: Tally, error: unknown): void {
  if ((error as { code?: string }).code === "ERR_SESSION_CONFLICT") tally.conflicts++;
  else {
    tally.otherErrors++;
    tally.firstError ??= error instanceof Error ? error.message : String(error);
  }
}

async function seeded(sessions: Manager): Promise<string> {
  const first = await sessions.load();
  first.set("user", "ada");
  return tokenOf(await sessions.commit(first))!;
}

async function writers(sessions: Manager, count: number, tally: Tally): Promise<void> {
  const token = await seeded(sessions);
  const loaded = await Promise.all(Array.from({ length: count }, () => sessions.load(token)));
  const resolved: number[] = [];
  await Promise.all(
    loaded.map(async (session, i) => {
      session.set(`key${i}`, i);
      tally.commits++;
      await sessions.commit(session).then(() => resolved.push(i), (error: unknown) => failed(tally, error));
    }),
  );
  const final = await sessions.load(token);
  for (const i of resolved) if (final.get(`key${i}`) !== i) tally.lostKeys++;
}

async function destroyVersusWriters(sessions: Manager, tally: Tally): Promise<void> {
  const token = await seeded(sessions);
  const [destroyer, ...others] = await Promise.all(Array.from({ length: 20 }, () => sessions.load(token)));
  await destroyer!.destroy();
  const destroyed = sessions.commit(destroyer!);
  await Promise.all([
    destroyed,
    ...others.map(async (session, i) => {
      session.set(`late${i}`, i);
      tally.commits++;
      await sessions.commit(session).catch((error: unknown) => failed(tally, error));
    }),
  ]);
  if (!(await sessions.load(token)).isNew) tally.revived++;
}

async function logoutVersusRegenerate(sessions: Manager, tally: Tally): Promise<void> {
  const token = await seeded(sessions);
  const [a, b] = await Promise.all([sessions.load(token), sessions.load(token)]);
  await a!.destroy();
  tally.commits += 2;
  const [, rotated] = await Promise.all([
    sessions.commit(a!),
    b!.regenerate().then(() => sessions.commit(b!)).catch((error: unknown) => (failed(tally, error), [] as string[])),
  ]);
  const handedOut = tokenOf(rotated);
  for (const candidate of [token, handedOut]) {
    if (candidate && (await sessions.load(candidate)).get("user") === "ada") tally.revived++;
  }
}

const scenarios: [string, (sessions: Manager, tally: Tally) => Promise<void>][] = [
  ["writers ×50", (sessions, tally) => writers(sessions, 50, tally)],
  ["writers ×150", (sessions, tally) => writers(sessions, 150, tally)],
  ["destroy vs 19 writers", destroyVersusWriters],
  ["logout vs regenerate", logoutVersusRegenerate],
];

async function runTarget(target: Target): Promise<void> {
  let opened: Awaited<ReturnType<Target["open"]>>;
  try {
    opened = await target.open();
  } catch (error) {
    console.log(`${target.name}: skipped (${error instanceof Error ? error.message : String(error)})`);
    return;
  }
  const sessions: Manager = new SessionManager({ store: opened.store, gcInterval: 0, storeTimeout: "10s" });
  try {
    for (const [name, scenario] of scenarios) {
      const tally: Tally = { rounds: ROUNDS, commits: 0, lostKeys: 0, revived: 0, conflicts: 0, otherErrors: 0, ms: 0 };
      const started = performance.now();
      for (let round = 0; round < ROUNDS; round++) await scenario(sessions, tally);
      tally.ms = performance.now() - started;
      print(target.name, name, tally);
    }
  } finally {
    await sessions.close();
    await opened.store.close?.();
    await opened.cleanup();
  }
}

function print(store: string, scenario: string, t: Tally): void {
  const errors = t.otherErrors === 0 ? "0" : `${t.otherErrors} (${t.firstError})`;
  console.log(
    `| ${store} | ${scenario} | ${t.rounds} | ${t.commits} | ${t.lostKeys} | ${t.revived} | ${t.conflicts} | ${errors} | ${(t.ms / 1000).toFixed(1)} s |`,
  );
}

console.log(`sessionkit stress, ${ROUNDS} rounds per scenario, Node ${process.version}\n`);
console.log("| store | scenario | rounds | commits | lost keys | revived ids | SessionConflictError | other errors | time |");
console.log("|---|---|---|---|---|---|---|---|---|");
for (const target of targets) if (!only || only.some((name) => target.name.startsWith(name))) await runTarget(target);

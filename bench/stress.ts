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
 * - revokeUser ‖ regenerate, revokeUser ‖ signIn: a signed-in tab rotates (or signs in again) while
 *   "sign out everywhere" runs. "Revived" counts rounds where any id of the session loads signed in.
 * - revokeUser ‖ rotating loop: a tab regenerates 10 times in a row while revokeUser runs.
 * - signed-in logout after rotation: B (loaded before) logs out while A regenerates the session.
 * - cap reject ‖ 4 sign-ins: one live session, maxSessionsPerUser 2, sessionLimit "reject", four
 *   sign-ins at once. "Lost keys" counts rounds where the session live before stopped loading.
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

async function signedIn(sessions: Manager, userId: string): Promise<string> {
  const session = await sessions.load();
  await session.signIn(userId);
  return tokenOf(await sessions.commit(session))!;
}

/** Rotations are allowed to lose (superseded, or a conflict): what counts is what loads afterwards. */
async function rotate(sessions: Manager, token: string, how: "regenerate" | "signIn", userId: string, tally: Tally): Promise<string | undefined> {
  const tab = await sessions.load(token);
  if (tab.isNew) return undefined;
  tally.commits++;
  try {
    await (how === "regenerate" ? tab.regenerate() : tab.signIn(userId));
    return tokenOf(await sessions.commit(tab));
  } catch (error) {
    failed(tally, error);
    return undefined;
  }
}

async function countSignedIn(sessions: Manager, tokens: Array<string | undefined>): Promise<number> {
  let live = 0;
  for (const token of tokens) if (token && (await sessions.load(token)).userId !== undefined) live++;
  return live;
}

let users = 0;

async function revokeVersusRotation(sessions: Manager, how: "regenerate" | "signIn", tally: Tally): Promise<void> {
  const userId = `stress-${process.pid}-${users++}`;
  const token = await signedIn(sessions, userId);
  const [, rotated] = await Promise.all([sessions.revokeUser(userId), rotate(sessions, token, how, userId, tally)]);
  if ((await countSignedIn(sessions, [token, rotated])) > 0 || (await sessions.listSessions(userId)).length > 0) tally.revived++;
}

async function revokeVersusLoop(sessions: Manager, tally: Tally): Promise<void> {
  const userId = `stress-${process.pid}-${users++}`;
  const handedOut = [await signedIn(sessions, userId)];
  const loop = (async () => {
    for (let i = 0; i < 10; i++) {
      const next = await rotate(sessions, handedOut.at(-1)!, "regenerate", userId, tally);
      if (!next) return;
      handedOut.push(next);
    }
  })();
  await sessions.revokeUser(userId);
  await loop;
  if ((await countSignedIn(sessions, handedOut)) > 0) tally.revived++;
}

async function signedInLogoutVersusRotation(sessions: Manager, tally: Tally): Promise<void> {
  const userId = `stress-${process.pid}-${users++}`;
  const token = await signedIn(sessions, userId);
  const b = await sessions.load(token);
  tally.commits++;
  const [rotated] = await Promise.all([
    rotate(sessions, token, "regenerate", userId, tally),
    b.destroy().then(() => sessions.commit(b)).catch((error: unknown) => failed(tally, error)),
  ]);
  if ((await countSignedIn(sessions, [token, rotated])) > 0) tally.revived++;
}

async function rejectVersusSignIns(sessions: Manager, tally: Tally): Promise<void> {
  const userId = `stress-${process.pid}-${users++}`;
  const existing = await signedIn(sessions, userId);
  tally.commits += 4;
  await Promise.all(
    Array.from({ length: 4 }, () =>
      signedIn(sessions, userId).catch((error: unknown) => {
        if ((error as { code?: string }).code !== "ERR_SESSION_LIMIT") failed(tally, error);
      }),
    ),
  );
  if ((await countSignedIn(sessions, [existing])) === 0) tally.lostKeys++;
}

const scenarios: [string, (sessions: Manager, tally: Tally) => Promise<void>][] = [
  ["writers ×50", (sessions, tally) => writers(sessions, 50, tally)],
  ["writers ×150", (sessions, tally) => writers(sessions, 150, tally)],
  ["destroy vs 19 writers", destroyVersusWriters],
  ["logout vs regenerate", logoutVersusRegenerate],
  ["revokeUser ‖ regenerate", (sessions, tally) => revokeVersusRotation(sessions, "regenerate", tally)],
  ["revokeUser ‖ signIn", (sessions, tally) => revokeVersusRotation(sessions, "signIn", tally)],
  ["revokeUser ‖ rotating loop", revokeVersusLoop],
  ["signed-in logout ‖ regenerate", signedInLogoutVersusRotation],
  ["cap reject ‖ 4 sign-ins", rejectVersusSignIns],
];

async function runTarget(target: Target): Promise<void> {
  let opened: Awaited<ReturnType<Target["open"]>>;
  try {
    opened = await target.open();
  } catch (error) {
    console.log(`${target.name}: skipped (${error instanceof Error ? error.message : String(error)})`);
    return;
  }
  const sessions: Manager = new SessionManager({ store: opened.store, gcInterval: 0, storeTimeout: "10s", maxSessionsPerUser: 2, sessionLimit: "reject" });
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

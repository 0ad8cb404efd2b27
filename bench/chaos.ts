/**
 * The full chaos run (test/chaos.test.ts is CI's short share): every scenario of issue 14 against
 * private servers on spare ports, load running while the fault happens. Report on stdout (markdown
 * tables as in bench/README.md), progress on stderr.
 *   npm run chaos                      # all scenarios, LONG_SIZE load
 *   npm run chaos -- --quick           # CI-sized load
 *   npm run chaos -- --only sentinel   # sentinel, cluster, reshard, postgres, mariadb, file, slow, signin-kills (comma list)
 * Needs redis-server, redis-sentinel, PostgreSQL's and MariaDB's server binaries (Debian packages).
 */
import type { ChaosReport } from "./chaos/harness.js";
import { progress } from "./chaos/harness.js";
import type { SlowStoreReport } from "./chaos/scenarios.js";
import { SIGNIN_KINDS } from "./chaos/signin-stores.js";
import { signinKills, signinKillsTable } from "./chaos/signin-kills.js";
import { CI_SIZE, LONG_SIZE, clusterFailover, clusterReshard, fileStoreKills, mariadbCrash, postgresRestart, sentinelFailover, slowStore, stopAllServers, table } from "./chaos/scenarios.js";

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping the private servers`);
    void stopAllServers().finally(() => process.exit(130));
  });
}

const args = process.argv.slice(2);
const size = args.includes("--quick") ? CI_SIZE : LONG_SIZE;
const only = args.includes("--only") ? args[args.indexOf("--only") + 1]!.split(",") : undefined;
const wanted = (name: string) => !only || only.includes(name);
/** The replica falls this far behind before the master is killed, in the "lagging" Redis scenarios. */
const LAG_MS = 300;

const scenarios: [string, () => Promise<ChaosReport>][] = [
  ...[0, 1].flatMap((waitReplicas) => [0, LAG_MS].flatMap((lagMs): [string, () => Promise<ChaosReport>][] => [
    ["sentinel", () => sentinelFailover({ size, waitReplicas, lagMs })],
    ["cluster", () => clusterFailover({ size, waitReplicas, lagMs })],
  ])),
  ["sentinel", () => sentinelFailover({ size, waitReplicas: 1, lagMs: LAG_MS, ioredis: true })],
  ["reshard", () => clusterReshard({ size, ioredis: false })],
  ["reshard", () => clusterReshard({ size, ioredis: true })],
  ["postgres", () => postgresRestart(size)],
  ["mariadb", () => mariadbCrash(size)],
  ["file", () => fileStoreKills(size, size === CI_SIZE ? 5 : 20)],
];

const reports: ChaosReport[] = [];
let failed = false;
for (const [name, run] of scenarios) {
  if (!wanted(name)) continue;
  try {
    reports.push(await run());
  } catch (error) {
    failed = true;
    progress(`${name} FAILED: ${(error as Error).stack}`);
  }
}
if (reports.length > 0) console.log(`${table(reports)}\n`);

if (wanted("slow")) {
  const slow: SlowStoreReport = await slowStore(1000, size === CI_SIZE ? 2 : 5);
  console.log(["| scenario | requests | typed 503 | other | slowest answer ms | heap MB before / peak / after | store calls in flight after | 2xx after the delay ended |", "|---|---|---|---|---|---|---|---|",
    `| ${slow.scenario} | ${slow.requests} | ${slow.typed503} | ${slow.other} | ${slow.maxAnswerMs} | ${slow.heapMB.before} / ${slow.heapMB.peak} / ${slow.heapMB.after} | ${slow.inFlightAfter} | ${slow.okAfter} of 1000 |`].join("\n"));
}
if (wanted("signin-kills")) {
  // The stores side by side: each run waits out the one-minute pending window.
  const kills = size === CI_SIZE ? 5 : 10;
  const outcomes = await Promise.allSettled(SIGNIN_KINDS.map((kind) => signinKills(kind, kills)));
  for (const outcome of outcomes) {
    if (outcome.status === "fulfilled") continue;
    failed = true;
    progress(`signin-kills FAILED: ${(outcome.reason as Error).stack}`);
  }
  console.log(`\n${signinKillsTable(outcomes.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : [])))}`);
}
process.exit(failed ? 1 : 0);

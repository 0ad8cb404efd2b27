/**
 * CI's share of the chaos run (bench/chaos.ts has all scenarios, longer): clients write counters
 * through a real Express app while a private server fails; afterwards every acknowledged (2xx)
 * write must read back, no destroyed session may come back, and requests fail only with typed
 * 503s during the fault, never after it. Timing is reported, not asserted (see bench/README.md).
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import type { ChaosReport } from "../bench/chaos/harness.js";
import { CI_SIZE, postgresRestart, sentinelFailover } from "../bench/chaos/scenarios.js";
import { postgresBin } from "../bench/chaos/servers.js";

function missing(what: string, present: boolean): boolean {
  if (present) return false;
  if (process.env.CI === "true") throw new Error(`${what} is missing (CI=true: a missing server fails the run)`);
  console.warn(`\n!!! SKIPPING a chaos scenario: ${what} is missing.\n`);
  return true;
}

const sentinelInstalled = spawnSync("redis-sentinel", ["--version"]).status === 0;

function expectNothingAcknowledgedLost(report: ChaosReport): void {
  console.info(`[chaos] ${JSON.stringify(report)}`);
  expect(report.acknowledgedWrites).toBeGreaterThan(0);
  expect(report.failed, "the fault made no request fail: it was not injected under load").toBeGreaterThan(0);
  expect(report.lost).toBe(0);
  expect(report.resurrected).toBe(0);
  // Every failure was the app's typed 503, never a dropped connection or a client timeout.
  expect(report.notes.join(" ")).not.toMatch(/network|client timeout|\d+× 5\d\d ERR_INTERNAL/);
  expect(report.failedAtEnd, "requests still failed after the fault: the app did not recover by itself").toBe(0);
}

describe("chaos under load through Express", () => {
  // The replica is held still for 300 ms before the master is SIGKILLed, so the master acknowledges
  // writes the promoted replica never gets: the loss asynchronous replication allows.
  // After a failover with waitReplicas, writes fail (outcome unknown) until the restarted old master
  // has resynced as the new master's replica: the load goes on long enough for that to pass.
  const lagging = { size: { ...CI_SIZE, afterMs: 12_000 }, lagMs: 300 };

  it.skipIf(missing("redis-sentinel (apt-get install redis-sentinel)", sentinelInstalled))(
    "Redis Sentinel, replica lagging, master SIGKILLed: with waitReplicas 1 no acknowledged write is lost and the promoted replica serves",
    async () => {
      const report = await sentinelFailover({ ...lagging, waitReplicas: 1 });
      expectNothingAcknowledgedLost(report);
      expect(report.notes.join(" ")).toMatch(/failover done \d+ ms after the SIGKILL/);
    },
    120_000,
  );

  it.skipIf(missing("redis-sentinel (apt-get install redis-sentinel)", sentinelInstalled))(
    "Redis Sentinel, replica lagging, master SIGKILLed: without waitReplicas acknowledged writes are lost (what the option prevents), but no acknowledged logout",
    async () => {
      const report = await sentinelFailover({ size: { ...CI_SIZE, afterMs: 3000 }, lagMs: 300, waitReplicas: 0 });
      console.info(`[chaos] ${JSON.stringify(report)}`);
      expect(report.notes.join(" "), "no probe write was acknowledged during the lag").toMatch(/probes: [1-9]\d* of/);
      expect(report.lost).toBeGreaterThan(0);
      expect(report.resurrected, "a destroy acknowledged before the failover came back").toBe(0);
    },
    120_000,
  );

  it.skipIf(missing("PostgreSQL server binaries (/usr/lib/postgresql/*/bin)", postgresBin() !== undefined))(
    "PostgreSQL pg_ctl restart -m fast: 503s during the restart only, nothing acknowledged lost",
    async () => {
      expectNothingAcknowledgedLost(await postgresRestart({ ...CI_SIZE, afterMs: 3000 }));
    },
    120_000,
  );
});

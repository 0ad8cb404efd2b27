import { expect, it } from "vitest";
import { contestantById } from "../bench/http/contestants.js";
import type { RunResult } from "../bench/http/load.js";
import type { ContestantOutcome } from "../bench/report.js";
import { buildRows, loadSaveTable } from "../bench/report.js";

const run = (route: string, cpuMicrosPerRequest: number): RunResult => ({
  route, requestsPerSecond: 1000, p50: 1, p99: 2, responses: 1000, ok: 1000, non2xx: 0, errors: 0, timeouts: 0, cpuMicrosPerRequest,
});
const outcome = (id: string, read: number, write: number): ContestantOutcome => ({
  contestant: contestantById(id), runs: [run("/read", read), run("/write", write)], problems: [],
});

it("measures a session write against both floors: one write, and read-then-write", () => {
  // The read-then-write floor comes first, so a lookup that ignores which floor is which finds it.
  const rows = buildRows([
    outcome("floor-rw-redis-express", 151, 190),
    outcome("floor-redis-express", 150, 140),
    outcome("sk-redis-express", 180, 230),
  ]);
  const ours = (route: string) => rows.find((r) => r.id === "sk-redis-express" && r.route === route)!;
  expect(ours("/read").cpuOverFloor, "the one-round-trip floor, never the read-then-write one").toBe(30);
  expect(ours("/write").cpuOverFloor).toBe(90);
  expect(ours("/write").cpuOverLoadSaveFloor).toBe(40);
  expect(ours("/read").cpuOverLoadSaveFloor, "reads have no second floor").toBeUndefined();
  expect(loadSaveTable(rows)).toContain("| sessionkit | redis | 230 | 140 | 190 | +40 |");
});

it("leaves the load-then-save table out when no such floor ran", () => {
  const rows = buildRows([outcome("floor-redis-express", 150, 140), outcome("sk-redis-express", 180, 230)]);
  expect(rows.find((r) => r.id === "sk-redis-express" && r.route === "/write")!.cpuOverFloor).toBe(90);
  expect(loadSaveTable(rows)).toEqual([]);
});

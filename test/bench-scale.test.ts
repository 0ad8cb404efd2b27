import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { PartResult } from "../bench/scale/lib.js";

const out = mkdtempSync(join(tmpdir(), "sessionkit-bench-scale-test-"));
let live: PartResult;

beforeAll(() => {
  // The CI smoke, on the in-process stores only: no server needed, and the results go to a temp folder.
  execFileSync(process.execPath, ["--import", "tsx", "bench/scale.ts", "--smoke", "--parts", "live", "--stores", "memory,file", "--out", out], { stdio: "pipe" });
  live = JSON.parse(readFileSync(join(out, "live.json"), "utf8")) as PartResult;
}, 60_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

const table = (title: string) => live.tables.find((t) => t.title.startsWith(title))!;
const column = (title: string, name: string) => table(title).rows.map((row) => row[table(title).columns.indexOf(name)]);

it("writes the live part in the shared shape, with the environment it ran in", () => {
  expect(live.part).toBe("live");
  expect(live.env.node).toBe(process.versions.node);
  expect(live.env.loadavg).toHaveLength(3);
  for (const t of live.tables) {
    expect(t.rows.length, t.title).toBeGreaterThan(0);
    for (const row of t.rows) expect(row, t.title).toHaveLength(t.columns.length);
  }
});

it("measures both stores at N = 10k, and every request found its session", () => {
  const requests = table("Live sessions");
  expect(requests.rows.map((row) => [row[0], row[1]])).toEqual([["memory", 10_000], ["file", 10_000]]);
  expect(column("Live sessions", "not found"), "a filled session the manager could not load").toEqual([0, 0]);
  for (const name of ["fill (s)", "load p50 (ms)", "load p99 (ms)", "commit p50 (ms)", "commit p99 (ms)", "CPU µs/req (bench process)"]) {
    for (const value of column("Live sessions", name)) expect(Number.isFinite(value) && (value as number) >= 0, name).toBe(true);
  }
});

it("counts exactly the sessions it filled, and states bytes per session beside the peer's", () => {
  expect(column("count()", "returned")).toEqual([10_000, 10_000]);
  const bytes = table("Bytes per live session").rows;
  expect(bytes.map((row) => row[0])).toEqual(["memory", "file", "express-session MemoryStore"]);
  for (const row of bytes) expect((row[2] as number) > 0 && Number.isFinite(row[2]), String(row[0])).toBe(true);
});

it("draws one SVG per curve, each with a point per store", () => {
  expect(live.curves.map((c) => c.id)).toContain("live-load-p50");
  for (const curve of live.curves.filter((c) => c.id !== "live-server-cpu-per-request")) {
    for (const series of curve.series) {
      expect(series.points.length, `${curve.id} ${series.name}`).toBeGreaterThan(0);
      for (const [x, y] of series.points) expect(Number.isFinite(x) && Number.isFinite(y), curve.id).toBe(true);
    }
    expect(existsSync(join(out, `${curve.id}.svg`)), curve.id).toBe(true);
    expect(readFileSync(join(out, `${curve.id}.svg`), "utf8")).toMatch(/^<svg[\s\S]*<circle/);
  }
});

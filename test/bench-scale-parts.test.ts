import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

// The smoke mode of bench:scale's gc and users parts, on the stores that need no server. Only the
// shape and that every figure is a finite number are checked: timings depend on the machine.
const resultsDir = await mkdtemp(join(tmpdir(), "sk-scale-parts-"));
afterAll(() => rm(resultsDir, { recursive: true, force: true }));

interface PartJson {
  part: string;
  settings: Record<string, unknown>;
  env: { node: string; loadavg: number[]; cpu: string };
  tables: { title: string; columns: string[]; rows: (string | number)[][] }[];
  curves: { id: string; title: string; xLabel: string; yLabel: string; logX?: boolean; series: { name: string; points: [number, number][] }[] }[];
}

async function runPart(part: string): Promise<PartJson> {
  await promisify(execFile)(process.execPath, ["--import", "tsx", `bench/scale/${part}.ts`, "--smoke", "--stores", "memory,file"], {
    env: { ...process.env, SCALE_RESULTS_DIR: resultsDir },
    timeout: 90_000,
  });
  return JSON.parse(await readFile(join(resultsDir, `${part}.json`), "utf8")) as PartJson;
}

function expectShape(json: PartJson, part: string): void {
  expect(json.part).toBe(part);
  expect(typeof json.env.node).toBe("string");
  expect(json.tables.length).toBeGreaterThan(0);
  for (const table of json.tables) {
    for (const row of table.rows) expect(row).toHaveLength(table.columns.length);
  }
  expect(json.curves.length).toBeGreaterThan(0);
  for (const curve of json.curves) {
    expect(curve.series.map((series) => series.name).sort()).toEqual(["file", "memory"]);
    for (const series of curve.series) {
      expect(series.points.length).toBeGreaterThan(0);
      for (const [x, y] of series.points) expect(Number.isFinite(x) && Number.isFinite(y) && y >= 0, `${curve.id} ${series.name}`).toBe(true);
    }
  }
}

/** The numeric cells of a table's rows for `store` (the first column). */
const figuresOf = (table: PartJson["tables"][number], store: string) => table.rows.filter((row) => row[0] === store).flatMap((row) => row.filter((cell) => typeof cell === "number"));

describe("bench:scale parts, smoke mode", () => {
  it("gc: every store's backlog is removed in full, and 4 file-store instances remove it once, without errors", async () => {
    const json = await runPart("gc");
    expectShape(json, "gc");
    const [backlog, instances] = json.tables;
    for (const store of ["memory", "file"]) {
      const row = backlog!.rows.find((cells) => cells[0] === store)!;
      expect(row[backlog!.columns.indexOf("removed")], store).toBe(row[backlog!.columns.indexOf("expired")]);
      expect(figuresOf(backlog!, store).every(Number.isFinite), store).toBe(true);
    }
    const file = instances!.rows.find((cells) => cells[0] === "file")!;
    expect(file[instances!.columns.indexOf("4 instances removed")]).toBe(file[instances!.columns.indexOf("expired")]);
    expect(file[instances!.columns.indexOf("errors")]).toBe(0);
  }, 120_000);

  it("users: a figure for every call and size on memory and file", async () => {
    const json = await runPart("users");
    expectShape(json, "users");
    const [perUser, capped] = json.tables;
    for (const store of ["memory", "file"]) {
      expect(perUser!.rows.filter((row) => row[0] === store)).toHaveLength(3);
      expect(figuresOf(perUser!, store).every((value) => Number.isFinite(value) && value >= 0), store).toBe(true);
      expect(figuresOf(capped!, store)).toHaveLength(2);
    }
  }, 120_000);
});

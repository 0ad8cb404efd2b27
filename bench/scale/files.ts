/**
 * FileStore with a million files (issue 30): its fan-out (`<dir>/<2 hex>/<64 hex>`, 256
 * sub-directories), time to fill, count() and gc() time, inodes and disk bytes per session, and
 * single load / commit latency at 10k and 1M sessions.
 *
 *   npx tsx bench/scale/files.ts [--sizes 10000,1000000] [--smoke]
 *
 * Each size is N live sessions plus N/10 expired ones, written directly in the store's layout
 * (the bulk path), in a directory of its own under the system temp dir, removed afterwards.
 * gc() then removes the N/10 expired files. Writes bench/results/scale/files.json.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStore } from "../../src/stores/file.js";
import type { Curve, Table } from "./part-kit.js";
import { PAYLOAD, log, ms, numberList, percentile, writePart, writeSessionFiles } from "./part-kit.js";

const smoke = process.argv.includes("--smoke");
const SIZES = numberList("--sizes", smoke ? [1_000, 5_000] : [10_000, 1_000_000]);
const SAMPLES = smoke ? 200 : 2_000;
const HOUR = 3_600_000;

/** Inodes in use on the file system holding `dir` (shared with everything else on it: a delta is approximate). */
const inodesUsed = (dir: string) => Number(execFileSync("df", ["--output=iused", dir], { encoding: "utf8" }).split("\n")[1]);
/** Bytes the tree under `dir` occupies on disk (allocated blocks, directories included). */
const diskBytes = (dir: string) => Number(execFileSync("du", ["-s", "--block-size=1", dir], { encoding: "utf8" }).split("\t")[0]);
/** The bytes of the files' contents. */
const apparentBytes = (dir: string) => Number(execFileSync("du", ["-s", "--apparent-size", "--block-size=1", dir], { encoding: "utf8" }).split("\t")[0]);

/** `SAMPLES` sequential get (load) and get+set (commit) calls on random live sessions: p50/p99 ms. */
async function latencies(store: FileStore, live: number) {
  const loads: number[] = [];
  const commits: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const key = `live${1 + Math.floor(Math.random() * live)}`;
    let started = performance.now();
    const record = await store.get(key);
    loads.push(performance.now() - started);
    if (!record) throw new Error(`${key} did not load`);
    started = performance.now();
    await store.get(key);
    await store.set(key, { data: PAYLOAD, expiresAt: Date.now() + HOUR, version: record.version + 1, expectedVersion: record.version });
    commits.push(performance.now() - started);
  }
  const sorted = (values: number[]) => values.sort((a, b) => a - b);
  return { load: sorted(loads), commit: sorted(commits) };
}

const rows: (string | number)[][] = [];
const timeCurve: Curve = { id: "files-scan-vs-sessions", title: "FileStore count() and gc() vs sessions on disk", xLabel: "session files", yLabel: "s", logX: true, series: [] };
const countPoints: [number, number][] = [];
const gcPoints: [number, number][] = [];

for (const live of SIZES) {
  const expired = Math.round(live / 10);
  const dir = await mkdtemp(join(tmpdir(), "sk-scale-files-"));
  try {
    const inodesBefore = inodesUsed(dir);
    let started = performance.now();
    writeSessionFiles(dir, "live", live, Date.now() + HOUR);
    writeSessionFiles(dir, "dead", expired, 1);
    const fillS = (performance.now() - started) / 1000;
    const inodeDelta = inodesUsed(dir) - inodesBefore;
    const subDirs = (await readdir(dir)).length;
    const disk = diskBytes(dir);
    const apparent = apparentBytes(dir);
    log(`files: ${live} live + ${expired} expired written in ${fillS.toFixed(1)} s`);
    const store = new FileStore({ dir });
    const figures = await latencies(store, live);
    started = performance.now();
    const counted = await store.count();
    const countS = (performance.now() - started) / 1000;
    if (counted !== live) throw new Error(`count() said ${counted}, not ${live}`);
    log(`files: count() ${countS.toFixed(1)} s`);
    started = performance.now();
    const removed = await store.gc();
    const gcS = (performance.now() - started) / 1000;
    log(`files: gc() removed ${removed} in ${gcS.toFixed(1)} s`);
    const files = live + expired;
    rows.push([
      live, expired, subDirs, Math.round(files / subDirs), ms(fillS, 1), inodeDelta, ms(inodeDelta / files, 3), Math.round(disk / files), Math.round(apparent / files),
      ms(percentile(figures.load, 0.5), 3), ms(percentile(figures.load, 0.99), 3), ms(percentile(figures.commit, 0.5), 3), ms(percentile(figures.commit, 0.99), 3),
      ms(countS, 2), removed, ms(gcS, 2),
    ]);
    countPoints.push([files, ms(countS, 3)]);
    gcPoints.push([files, ms(gcS, 3)]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
timeCurve.series.push({ name: "count()", points: countPoints }, { name: `gc() (removes the 1/11 expired)`, points: gcPoints });

const tables: Table[] = [
  {
    title: `FileStore: N live session files + N/10 expired, ${SAMPLES} sequential loads and commits`,
    columns: [
      "live N", "expired", "sub-directories", "files per sub-directory", "fill (s)", "inodes used (df -i delta)", "inodes per file", "disk bytes per session (du)", "content bytes per session",
      "load p50 (ms)", "load p99", "commit p50 (ms)", "commit p99", "count() (s)", "gc removed", "gc() (s)",
    ],
    rows,
  },
];
writePart("files", { smoke, sizes: SIZES, samples: SAMPLES, payloadBytes: PAYLOAD.length }, tables, [timeCurve]);

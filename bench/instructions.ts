/**
 * npm run bench:instructions [-- --only a,b] [--requests N] [--dumps DIR]
 *
 * CPU instructions per request, counted by valgrind's callgrind inside each contestant's server
 * process. On a shared machine CPU time per request swings by ±25 % between runs of the same
 * server; an instruction count repeats within a few per cent whatever else the machine does, so
 * a difference of a few µs between two contestants can be seen. It counts work, not time: cache
 * misses and stalls are not in it. The server runs one at a time, ~50× slower under valgrind, so
 * the load is light (10 connections); the count starts after a warm-up of the same size, once the
 * JIT has compiled the hot paths.
 * `--dumps DIR` keeps each route's callgrind dump there (`<id>.read.out`, …) for callgrind_annotate:
 * JIT-compiled JavaScript shows as anonymous code, but Node's C++ and V8's builtins are named.
 * Needs valgrind (Debian: apt-get install valgrind). Writes bench/results/instructions.md.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Contestant } from "./http/contestants.js";
import { contestantById } from "./http/contestants.js";
import { ContestantServer, drive, seedSessions, sessionsPerConnection } from "./http/load.js";
import { REPO_ROOT, sleep } from "./lib.js";

const ROUTES = ["/read", "/write"] as const;
const DEFAULT_IDS = [
  "bare-node", "sk-memory-node",
  "bare-express", "sk-memory-express", "es-memory-express",
  "bare-fastify", "floor-memory-fastify", "sk-memory-fastify", "fs-memory-fastify",
  "bare-koa", "floor-memory-koa", "sk-memory-koa",
  "bare-hono", "floor-memory-hono", "sk-memory-hono",
];
const CONNECTIONS = 10;
const SESSIONS = 100;

interface Counted {
  contestant: Contestant;
  perRequest: Partial<Record<(typeof ROUTES)[number], number>>;
  problem?: string;
}

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
}

function callgrindControl(pid: number, ...args: string[]): void {
  execFileSync("callgrind_control", [...args, String(pid)], { stdio: "ignore" });
}

/** The instruction total of the dump `callgrind_control -d` writes next (file name ends in .N). */
async function nextDump(directory: string, pid: number, dumpsBefore: number): Promise<{ total: number; path: string }> {
  const prefix = `callgrind.${pid}.`;
  for (let waited = 0; waited < 30_000; waited += 100) {
    const dumps = readdirSync(directory).filter((name) => name.startsWith(prefix));
    if (dumps.length > dumpsBefore) {
      const newest = dumps.sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length))).at(-1)!;
      const path = join(directory, newest);
      const summary = /^(?:summary|totals): (\d+)/m.exec(readFileSync(path, "utf8"));
      if (summary) return { total: Number(summary[1]), path };
    }
    await sleep(100);
  }
  throw new Error("callgrind wrote no dump within 30 s");
}

async function count(contestant: Contestant, requests: number, keepDumps: string | undefined): Promise<Counted> {
  const directory = mkdtempSync(join(tmpdir(), "sessionkit-callgrind-"));
  const counted: Counted = { contestant, perRequest: {} };
  const server = await ContestantServer.start(contestant, { callgrindDir: directory });
  const pid = server.child.pid!;
  try {
    const groups = sessionsPerConnection(await seedSessions(server.base, SESSIONS), CONNECTIONS);
    callgrindControl(pid, "--instr=on");
    for (const route of ROUTES) await drive(server.base, route, groups, 0, requests);
    let dumps = 0;
    for (const route of ROUTES) {
      callgrindControl(pid, "--zero");
      const run = await drive(server.base, route, groups, 0, requests);
      callgrindControl(pid, "--dump");
      const { total, path } = await nextDump(directory, pid, dumps++);
      if (keepDumps) copyFileSync(path, join(keepDumps, `${contestant.id}.${route.slice(1)}.out`));
      if (run.ok !== run.responses || run.errors) counted.problem = `${route}: ${run.responses - run.ok} non-2xx, ${run.errors} errors`;
      counted.perRequest[route] = total / run.responses;
    }
  } catch (error) {
    counted.problem = error instanceof Error ? error.message : String(error);
  } finally {
    await server.stop();
    rmSync(directory, { recursive: true, force: true });
  }
  return counted;
}

function thousands(n: number | undefined): string {
  return n === undefined ? "—" : `${Math.round(n / 1000).toLocaleString("en-US")}k`;
}

function overBare(row: Counted, bare: Counted | undefined, route: (typeof ROUTES)[number]): string {
  const own = row.perRequest[route];
  const base = bare?.perRequest[route];
  if (own === undefined || base === undefined || row === bare) return "";
  const extra = own - base;
  return `${extra >= 0 ? "+" : "−"}${thousands(Math.abs(extra))} (${extra >= 0 ? "+" : "−"}${Math.abs((extra / base) * 100).toFixed(0)} %)`;
}

function toMarkdown(rows: Counted[], requests: number): string {
  const lines = [
    "# Instructions per request (callgrind)",
    "",
    `${new Date().toISOString()}, Node ${process.version}; ${requests} requests per route after a warm-up of as many, ${CONNECTIONS} connections, ${SESSIONS} sessions.`,
    "Counted by valgrind's callgrind in the server process: everything it ran (Node, the framework, the library, the garbage collector) ÷ responses.",
    "`over bare`: minus the bare framework of the same row group (the same routes with no session library).",
    "",
    "| contestant | framework | /read instr/req | over bare | /write instr/req | over bare | |",
    "|---|---|---:|---:|---:|---:|---|",
  ];
  for (const row of rows) {
    const bare = rows.find((r) => r.contestant.kind === "bare" && r.contestant.framework === row.contestant.framework);
    const [read, write] = ROUTES.map((route) => row.perRequest[route]);
    lines.push(`| ${row.contestant.id} | ${row.contestant.framework} | ${thousands(read)} | ${overBare(row, bare, "/read")} | ${thousands(write)} | ${overBare(row, bare, "/write")} | ${row.problem ?? "✓"} |`);
  }
  return `${lines.join("\n")}\n`;
}

async function main(): Promise<void> {
  const requests = Number(argument("--requests") ?? 3000);
  const ids = argument("--only")?.split(",") ?? DEFAULT_IDS;
  const keepDumps = argument("--dumps");
  if (keepDumps) mkdirSync(keepDumps, { recursive: true });
  const rows: Counted[] = [];
  for (const id of ids) {
    const row = await count(contestantById(id), requests, keepDumps);
    console.log(`- ${id}: ${ROUTES.map((route) => `${route} ${thousands(row.perRequest[route])} instr/req`).join(", ")}${row.problem ? ` (${row.problem})` : ""}`);
    rows.push(row);
  }
  const markdown = toMarkdown(rows, requests);
  console.log(`\n${markdown}`);
  const results = join(REPO_ROOT, "bench", "results");
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, "instructions.md"), markdown);
  console.log("written: bench/results/instructions.md");
  if (rows.some((row) => row.problem)) process.exitCode = 1;
}

await main();

/**
 * The load side: starts a contestant's server process, seeds sessions through /login, drives
 * /read and /write with autocannon, and checks afterwards that the contestant did the work.
 *
 * Requests are built ahead of time: each autocannon connection gets, in `setupClient`, its own
 * array of prebuilt requests (one per session it owns) and cycles through it. No per-request
 * callback runs in the load generator, and no two connections share a session, so two requests
 * of one session never overlap (overlap would make libraries without compare-and-set lose updates).
 */
import type { ChildProcess } from "node:child_process";
import { fork } from "node:child_process";
import { join } from "node:path";
import { importAs, REPO_ROOT, sleep } from "../lib.js";
import type { Contestant } from "./contestants.js";

export interface LoadSettings {
  connections: number;
  sessions: number;
  warmupSeconds: number;
  durationSeconds: number;
  rounds: number;
}

export interface RunResult {
  route: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  responses: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** The server process's CPU time (user + system) over the run ÷ responses: µs per request. */
  cpuMicrosPerRequest?: number;
}

export interface ServerStats {
  writes: number;
  logins: number;
  /** process.cpuUsage() of the server, user + system, in µs. */
  cpuMicros: number;
}

interface AutocannonClient {
  setRequests(requests: Array<{ method: string; path: string; headers: Record<string, string> }>): void;
}
interface AutocannonResult {
  requests: { total: number };
  latency: { p50: number; p99: number };
  duration: number;
  "2xx": number;
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;

/** Compiled by `npm run bench` from server.ts (see its header). */
const SERVER_ENTRY = join(REPO_ROOT, "bench", ".build", "http", "server.js");
const START_TIMEOUT_MS = 60_000;

/** A contestant's server in its own process. */
export class ContestantServer {
  #stopped = false;
  private constructor(
    readonly contestant: Contestant,
    readonly port: number,
    readonly child: ChildProcess,
  ) {}

  /**
   * `profileDir`: run under `node --cpu-prof`, writing there. `callgrindDir`: run under valgrind's
   * callgrind with instrumentation off until `callgrind_control -i on` (bench/instructions.ts).
   */
  static start(contestant: Contestant, options: { profileDir?: string; callgrindDir?: string } = {}): Promise<ContestantServer> {
    const { profileDir, callgrindDir } = options;
    const runner = callgrindDir
      ? {
          execPath: "valgrind",
          execArgv: ["--tool=callgrind", "--smc-check=all-non-file", "--instr-atstart=no", `--callgrind-out-file=${callgrindDir}/callgrind.%p`, `--log-file=${callgrindDir}/valgrind.%p.log`, process.execPath],
        }
      : { execArgv: profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [] };
    const child = fork(SERVER_ENTRY, [contestant.id], { ...runner, stdio: ["ignore", "inherit", "pipe", "ipc"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      process.stderr.write(`[${contestant.id}] ${chunk.toString()}`);
    });
    return new Promise((resolve, reject) => {
      const startTimeout = callgrindDir ? 5 * START_TIMEOUT_MS : START_TIMEOUT_MS; // valgrind starts Node ~50× slower
      const timer = setTimeout(() => fail(`did not start within ${startTimeout / 1000} s`), startTimeout);
      const fail = (reason: string) => {
        clearTimeout(timer);
        child.kill();
        reject(new Error(reason));
      };
      child.on("message", (message: { type: string; port?: number; message?: string }) => {
        if (message.type === "ready") {
          clearTimeout(timer);
          resolve(new ContestantServer(contestant, message.port!, child));
        }
        if (message.type === "error") fail(message.message ?? "failed to start");
      });
      child.once("exit", (code) => fail(`exited with code ${code} before it was ready ${stderr.trim().split("\n").slice(-3).join(" | ")}`));
    });
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  stats(): Promise<ServerStats> {
    return new Promise((resolve) => {
      const listener = (message: { type: string } & ServerStats) => {
        if (message.type !== "stats") return;
        this.child.off("message", listener);
        resolve({ writes: message.writes, logins: message.logins, cpuMicros: message.cpuMicros });
      };
      this.child.on("message", listener);
      this.child.send({ type: "stats" });
    });
  }

  async stop(): Promise<void> {
    if (this.#stopped || this.child.exitCode !== null) return;
    this.#stopped = true;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.send({ type: "stop" });
    const timer = setTimeout(() => this.child.kill(), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

/** The Cookie header value for each seeded session. */
export async function seedSessions(base: string, count: number): Promise<string[]> {
  const cookies: string[] = new Array(count);
  await inParallel(count, 25, async (i) => {
    const response = await fetch(`${base}/login`);
    await response.text();
    const setCookies = response.headers.getSetCookie();
    if (response.status !== 200 || setCookies.length === 0) throw new Error(`/login answered ${response.status} without a cookie`);
    cookies[i] = setCookies.map((line) => line.split(";")[0]).join("; ");
  });
  return cookies;
}

/** Deals the sessions out to connections: connection c owns sessions c, c+n, c+2n, ... */
export function sessionsPerConnection(cookies: string[], connections: number): string[][] {
  const groups: string[][] = Array.from({ length: connections }, () => []);
  cookies.forEach((cookie, i) => groups[i % connections]!.push(cookie));
  return groups;
}

/** Drives `route` for `seconds`, or for exactly `amount` requests when given. */
export async function drive(base: string, route: string, groups: string[][], seconds: number, amount?: number): Promise<RunResult> {
  const autocannon = (await importAs<{ default: Autocannon }>("autocannon")).default;
  let nextConnection = 0;
  const result = await autocannon({
    url: base,
    connections: groups.length,
    pipelining: 1,
    ...(amount ? { amount } : { duration: seconds }),
    timeout: 10,
    setupClient: (client: AutocannonClient) => {
      const own = groups[nextConnection++ % groups.length]!;
      client.setRequests(own.map((cookie) => ({ method: "GET", path: route, headers: { cookie } })));
    },
  });
  return {
    route,
    requestsPerSecond: result.requests.total / (result.duration || seconds),
    p50: result.latency.p50,
    p99: result.latency.p99,
    responses: result.requests.total,
    ok: result["2xx"],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/** `drive` against a contestant's server, with the server's CPU time per request served. */
export async function driveMeasured(server: ContestantServer, route: string, groups: string[][], seconds: number): Promise<RunResult> {
  const before = await server.stats();
  const run = await drive(server.base, route, groups, seconds);
  const after = await server.stats();
  if (run.responses > 0) run.cpuMicrosPerRequest = (after.cpuMicros - before.cpuMicros) / run.responses;
  return run;
}

/** What `verify` found; `problems` is empty when the contestant did all the work it claims. */
export interface Verification {
  problems: string[];
  detail: string;
}

/**
 * Server-side stores: every session's counter is read back through /read; their sum must equal
 * the number of /write handler runs the server counted, and at least the 2xx /write answers
 * the load generator saw. Cookie sessions cannot be read back (the load replays the seeded
 * cookies), so a sample of sessions is written and re-read with the new cookie instead.
 */
export async function verify(server: ContestantServer, cookies: string[], okWrites: number, maxInFlight: number): Promise<Verification> {
  await sleep(300); // writes of requests cut off when autocannon stopped may still be running
  const stats = await server.stats();
  const problems: string[] = [];
  if (stats.writes < okWrites) problems.push(`server ran /write ${stats.writes} times but ${okWrites} got 2xx`);
  if (stats.writes > okWrites + maxInFlight) problems.push(`server ran /write ${stats.writes} times, more than the ${okWrites} answered + ${maxInFlight} in flight`);
  const { contestant } = server;
  if (contestant.kind === "bare") return { problems, detail: `bare: ${stats.writes} /write runs, no store` };
  if (contestant.clientSide) return verifyCookieRoundTrip(server.base, cookies.slice(0, 20), problems, stats);
  let counters: number[];
  try {
    counters = await readCounters(server.base, cookies);
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
    return { problems, detail: "read-back failed" };
  }
  const sum = counters.reduce((a, b) => a + b, 0);
  if (sum !== stats.writes) problems.push(`store holds ${sum} increments but the server made ${stats.writes}`);
  return { problems, detail: `read back ${cookies.length} sessions: ${sum} increments stored = ${stats.writes} /write runs` };
}

async function readCounters(base: string, cookies: string[]): Promise<number[]> {
  const counters: number[] = new Array(cookies.length);
  await inParallel(cookies.length, 25, async (i) => {
    const response = await fetch(`${base}/read`, { headers: { cookie: cookies[i]! } });
    const body = await response.text();
    if (response.status !== 200) throw new Error(`read-back of session ${i} answered ${response.status} ${body}: the session is gone`);
    counters[i] = Number(body);
  });
  return counters;
}

async function verifyCookieRoundTrip(base: string, cookies: string[], problems: string[], stats: ServerStats): Promise<Verification> {
  for (const cookie of cookies) {
    const before = Number(await (await fetch(`${base}/read`, { headers: { cookie } })).text());
    const written = await fetch(`${base}/write`, { headers: { cookie } });
    await written.text();
    const next = mergeCookies(cookie, written.headers.getSetCookie());
    const after = await fetch(`${base}/read`, { headers: { cookie: next } });
    const value = Number(await after.text());
    if (after.status !== 200 || value !== before + 1) problems.push(`cookie round trip: ${before} + 1 read back as ${after.status} ${value}`);
  }
  return { problems, detail: `cookie sessions: ${cookies.length} write/re-read round trips checked; ${stats.writes} /write runs` };
}

function mergeCookies(header: string, setCookies: string[]): string {
  const jar = new Map(header.split("; ").map((pair) => [pair.slice(0, pair.indexOf("=")), pair] as const));
  for (const line of setCookies) {
    const pair = line.split(";")[0]!;
    jar.set(pair.slice(0, pair.indexOf("=")), pair);
  }
  return [...jar.values()].join("; ");
}

async function inParallel(count: number, width: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker));
}

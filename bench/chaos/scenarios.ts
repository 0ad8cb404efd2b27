/**
 * One function per chaos scenario: start a private server, run the load through Express,
 * inject the fault, report. Every server is stopped in a finally, also when the scenario fails.
 */
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import * as diagnostics from "node:diagnostics_channel";
import { once } from "node:events";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import mysql from "mysql2/promise";
import pg from "pg";
import { Cluster, Redis } from "ioredis";
import { createCluster, createSentinel } from "redis";
import { SessionManager } from "../../src/core/manager.js";
import type { SessionStore, SessionWrite } from "../../src/core/store.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { MySQLStore } from "../../src/stores/mysql.js";
import { PostgresStore } from "../../src/stores/postgres.js";
import type { RedisClientLike } from "../../src/stores/redis.js";
import { RedisStore } from "../../src/stores/redis.js";
import type { ChaosReport } from "./harness.js";
import { chaosApp, listenOn, progress, runScenario, sleep } from "./harness.js";
import { PrivateCluster, PrivateMariaDB, PrivatePostgres, PrivateSentinel, freePorts } from "./servers.js";

export interface Size {
  clients: number;
  sessionsPerClient: number;
  warmupMs: number;
  afterMs: number;
}

export const CI_SIZE: Size = { clients: 16, sessionsPerClient: 4, warmupMs: 1500, afterMs: 8000 };
export const LONG_SIZE: Size = { clients: 64, sessionsPerClient: 8, warmupMs: 5000, afterMs: 10_000 };

/** Serves `store` through Express, runs the load (with `signInEvery`, see LoadOptions) with `fault`, closes app and manager. */
async function throughExpress(scenario: string, store: SessionStore, size: Size, fault: (url: string) => Promise<void>, storeTimeout = "2s", signInEvery = 0): Promise<ChaosReport> {
  const manager = new SessionManager({ store, storeTimeout, gcInterval: 0 });
  const app = await listenOn(chaosApp(manager));
  try {
    return await runScenario({ scenario, url: () => app.url, ...size, destroyEvery: 20, signInEvery, fault: () => fault(app.url) });
  } finally {
    await app.close();
    await manager.close();
  }
}

interface PrivateServer {
  start(): Promise<void>;
  stop(): Promise<void>;
}

const running = new Set<PrivateServer>();

/** Stops every private server still running: for a run interrupted by a signal, where no finally runs. */
export async function stopAllServers(): Promise<void> {
  await Promise.allSettled([...running].map((server) => server.stop()));
}

/** Starts `server`, runs the scenario, and stops the server whatever happens. */
async function using<S extends PrivateServer>(server: S, run: (server: S) => Promise<ChaosReport>): Promise<ChaosReport> {
  running.add(server);
  try {
    await server.start();
    return await run(server);
  } finally {
    await server.stop();
    running.delete(server);
  }
}

type RedisFailover = PrivateServer & { killMaster(lagMs: number, whileLagging?: () => Promise<unknown>): Promise<{ failoverMs: number }> };

/** Sessions written once more while the replica is held still: the writes a failover must lose unless `waitReplicas` refuses them. */
const PROBES = 8;

/**
 * Kills a master of `servers` under load; the client the store owns must follow the promotion.
 * With `lagMs`, the replica is first held still that long, so the master acknowledges writes the
 * replica never gets: what asynchronous replication loses, and what `waitReplicas` must not.
 * The random load may or may not write in that window; the probes do, every time, so the loss
 * is not left to timing.
 */
async function redisFailover(scenario: string, servers: RedisFailover, connect: () => Promise<RedisClientLike>, { size, waitReplicas, lagMs }: RedisFault): Promise<ChaosReport> {
  return using(servers, async () => {
    const store = new RedisStore({ client: await connect(), ownsClient: true, waitReplicas, waitTimeout: "200ms" });
    let failoverMs = 0;
    let probes: Probes | undefined;
    let lost = 0;
    const lag = lagMs > 0 ? `replica ${lagMs} ms behind, ` : "";
    const report = await throughExpress(`${scenario}, ${lag}waitReplicas ${waitReplicas}`, store, size, async (url) => {
      probes = lagMs > 0 ? await Probes.create(url) : undefined;
      ({ failoverMs } = await servers.killMaster(lagMs, () => probes?.writeAgain() ?? Promise.resolve()));
      lost = (await probes?.lost()) ?? 0; // read while the app still serves (it closes with the load)
    });
    report.notes.push(`failover done ${failoverMs.toFixed(0)} ms after the SIGKILL`);
    if (probes) {
      report.lost += lost;
      report.acknowledgedWrites += probes.acknowledged;
      report.notes.push(`probes: ${probes.acknowledged} of ${PROBES} written while the replica was held were acknowledged, ${lost} of them lost`);
    }
    return report;
  });
}

/** PROBES sessions of their own, outside the random load: written (1), written again during the lag (2), read after the failover. */
class Probes {
  readonly #acknowledged = new Set<string>();

  private constructor(
    readonly url: string,
    readonly cookies: string[],
  ) {}

  static async create(url: string): Promise<Probes> {
    const cookies = await Promise.all(
      Array.from({ length: PROBES }, async () => {
        const response = await fetch(`${url}/write/1`, { method: "POST" });
        if (!response.ok) throw new Error(`a probe session could not be created: ${response.status}`);
        return response.headers.get("set-cookie")!.split(";")[0]!;
      }),
    );
    return new Probes(url, cookies);
  }

  get acknowledged(): number {
    return this.#acknowledged.size;
  }

  async writeAgain(): Promise<void> {
    await Promise.all(
      this.cookies.map(async (cookie) => {
        const response = await fetch(`${this.url}/write/2`, { method: "POST", headers: { cookie } }).catch(() => undefined);
        if (response?.ok) this.#acknowledged.add(cookie);
      }),
    );
  }

  /** Acknowledged second writes that no longer read back (a 5xx is retried for up to 30 s, as the load's own check does). */
  async lost(): Promise<number> {
    let lost = 0;
    for (const cookie of this.#acknowledged) {
      const until = performance.now() + 30_000;
      let response = await fetch(`${this.url}/read`, { headers: { cookie } });
      while (!response.ok && performance.now() < until) {
        await sleep(100);
        response = await fetch(`${this.url}/read`, { headers: { cookie } });
      }
      if (!response.ok) throw new Error(`a probe session could not be read for 30 s after the failover: ${response.status}`);
      const { counter } = (await response.json()) as { counter: unknown };
      if (counter !== 2) lost++;
    }
    return lost;
  }
}

export interface RedisFault {
  size: Size;
  waitReplicas: number;
  /** How long the replica is held still before the master is killed; 0: a plain SIGKILL. */
  lagMs: number;
  /** Sentinel only: ioredis's client instead of node-redis's createSentinel. */
  ioredis?: boolean;
}

export function sentinelFailover(fault: RedisFault): Promise<ChaosReport> {
  const servers = new PrivateSentinel();
  return redisFailover(`Redis Sentinel (${fault.ioredis ? "ioredis" : "node-redis"})`, servers, async () => {
    if (fault.ioredis) {
      const client = new Redis({ sentinels: servers.sentinels, name: "mymaster" });
      client.on("error", () => {});
      return client;
    }
    const client = createSentinel({ name: "mymaster", sentinelRootNodes: servers.sentinels });
    client.on("error", () => {}); // the killed master's connection errors; commands report their own failure
    return client.connect();
  }, fault);
}

export function clusterFailover(fault: RedisFault): Promise<ChaosReport> {
  const servers = new PrivateCluster();
  return redisFailover("Redis Cluster with replicas", servers, async () => {
    const client = createCluster({ rootNodes: servers.ports.map((port) => ({ url: `redis://127.0.0.1:${port}` })) });
    client.on("error", () => {});
    return client.connect();
  }, fault);
}

export interface ReshardRun {
  size: Size;
  /** ioredis's `Cluster` instead of node-redis's `createCluster`. */
  ioredis: boolean;
}

/**
 * Grows and shrinks a 3-master cluster (no replicas) under load: a 4th master is added and given
 * its share of slots (`--cluster rebalance --cluster-use-empty-masters`), the load runs on the 4
 * masters, then every slot of an original master (the one the clients were given first) is moved
 * to the others, and the node is removed (`--cluster del-node`) and stopped. Every key the load
 * writes, session or user index, lives in some slot that moves; the client must follow MOVED and ASK.
 */
export function clusterReshard({ size, ioredis }: ReshardRun): Promise<ChaosReport> {
  const servers = new PrivateCluster(false);
  return using(servers, async () => {
    const store = new RedisStore({ client: await connectCluster(servers.ports, ioredis), ownsClient: true });
    const steps: string[] = [];
    let faultAt = 0;
    // Each step as "+start–end ms" from the fault's start, the time base of the failures' note.
    const step = async <T>(name: string, run: () => Promise<T>, describe: (result: T) => string = () => "") => {
      const started = performance.now() - faultAt;
      const result = await run();
      steps.push(`${name}${describe(result)} +${started.toFixed(0)}–${(performance.now() - faultAt).toFixed(0)} ms`);
      progress(`reshard: ${steps.at(-1)}`);
    };
    // What the client answered, by message: the 503s' cause (sessionkit's "sessionkit:store" channel).
    const causes = new Map<string, number>();
    const storeErrors = diagnostics.channel("tracing:sessionkit:store:error");
    const tally = (message: unknown) => {
      const { error } = message as { error?: { cause?: unknown } };
      const cause = (error?.cause ?? error) as Error | undefined;
      const text = String(cause?.message ?? cause).replace(/\d+/g, "N").slice(0, 60) || String(cause?.name);
      causes.set(text, (causes.get(text) ?? 0) + 1);
    };
    storeErrors.subscribe(tally);
    const report = await throughExpress(`Redis Cluster resharded, 3 → 4 → 3 masters (${ioredis ? "ioredis" : "node-redis"})`, store, size, async () => {
      faultAt = performance.now();
      const leaving = servers.ports[0]!;
      await step("add-node", () => servers.addMaster());
      await step("rebalance onto it", () => servers.rebalance("--cluster-use-empty-masters"), (slots) => ` (${slots} slots)`);
      await sleep(size.warmupMs);
      await step("slots off a first master, del-node, node stopped", () => servers.removeMaster(leaving), (slots) => ` (${slots} slots)`);
    }, "2s", 10);
    storeErrors.unsubscribe(tally);
    report.notes.unshift(steps.join(", "));
    if (causes.size > 0) report.notes.push(`store errors: ${[...causes].map(([message, count]) => `${count}× "${message}"`).join(", ")}`);
    return report;
  });
}

async function connectCluster(ports: number[], ioredis: boolean): Promise<RedisClientLike> {
  if (ioredis) {
    const client = new Cluster(ports.map((port) => ({ host: "127.0.0.1", port })));
    client.on("error", () => {});
    await once(client, "ready");
    return client;
  }
  const client = createCluster({ rootNodes: ports.map((port) => ({ url: `redis://127.0.0.1:${port}` })) });
  client.on("error", () => {});
  return client.connect();
}

export function postgresRestart(size: Size): Promise<ChaosReport> {
  return using(new PrivatePostgres(), async (server) => {
    const pool = new pg.Pool({ connectionString: server.url, max: 10, connectionTimeoutMillis: 1000 });
    pool.on("error", () => {}); // idle clients cut by the restart
    try {
      return await throughExpress("PostgreSQL pg_ctl restart -m fast", new PostgresStore({ pool }), size, () => server.restart());
    } finally {
      await pool.end();
    }
  });
}

export function mariadbCrash(size: Size): Promise<ChaosReport> {
  return using(new PrivateMariaDB(), async (server) => {
    const pool = mysql.createPool({ uri: server.url, connectionLimit: 10, connectTimeout: 1000 });
    pool.on("connection", (connection) => connection.on("error", () => {}));
    try {
      const store = new MySQLStore({ pool, tableName: "chaos_sessions" });
      return await throughExpress("MariaDB SIGKILL + restart", store, size, () => server.crashAndRestart());
    } finally {
      await pool.end();
    }
  });
}

/** Prints a report table row per scenario (markdown, as in bench/README.md). */
export function table(reports: ChaosReport[]): string {
  const rows = reports.map((r) =>
    `| ${r.scenario} | ${r.requests} | ${r.acknowledgedWrites} | ${r.failed} | ${r.lost} | ${r.resurrected} | ${r.window} | ${r.failedAtEnd} | ${r.notes.join("; ")} |`,
  );
  return ["| scenario | requests | acked writes | 5xx/failed | lost | resurrected | 5xx window ms | failed at end | notes |", "|---|---|---|---|---|---|---|---|---|", ...rows].join("\n");
}

export { progress };

/** The FileStore app in a child process, SIGKILLed `kills` times mid-load and started again on the same port and dir. */
export async function fileStoreKills(size: Size, kills: number): Promise<ChaosReport> {
  const dir = mkdtempSync(join(tmpdir(), "sessionkit-chaos-file-"));
  const port = await freePorts(1);
  let app = await startFileApp(dir, port);
  try {
    const report = await runScenario({
      scenario: `FileStore, app SIGKILLed ${kills}×`,
      url: () => `http://127.0.0.1:${port}`,
      ...size,
      destroyEvery: 20,
      fault: async () => {
        for (let i = 0; i < kills; i++) {
          await sleep(150 + Math.random() * 300); // a random instant of the write load
          app.kill("SIGKILL");
          await once(app, "exit");
          app = await startFileApp(dir, port);
        }
      },
    });
    const leftovers = readdirSync(dir, { recursive: true }).filter((name) => String(name).endsWith(".tmp")).length;
    report.notes.push(`${leftovers} temp files of killed writes left (collected by gc)`);
    return report;
  } finally {
    app.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

async function startFileApp(dir: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./file-app.ts", import.meta.url)), dir, String(port)], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
    child.once("exit", (code) => reject(new Error(`the FileStore app exited (${code}) before it was ready`)));
  });
  return child;
}

/** A store whose every call takes `delayMs` longer while `slow` is on, and that counts calls in flight. */
class SlowStore implements SessionStore {
  readonly inner = new MemoryStore();
  slow = true;
  inFlight = 0;
  constructor(readonly delayMs: number) {}

  async #call<R>(run: () => R): Promise<R> {
    this.inFlight++;
    try {
      if (this.slow) await sleep(this.delayMs);
      return run();
    } finally {
      this.inFlight--;
    }
  }
  get(key: string) {
    return this.#call(() => this.inner.get(key));
  }
  set(key: string, write: SessionWrite) {
    return this.#call(() => this.inner.set(key, write));
  }
  destroy(key: string) {
    return this.#call(() => this.inner.destroy(key));
  }
}

export interface SlowStoreReport {
  scenario: string;
  requests: number;
  /** Answers that were the typed 503 ERR_SESSION_STORE (timeout), out of `requests`. */
  typed503: number;
  other: number;
  /** Slowest answer while the store was slow, ms (bounded by storeTimeout plus queueing). */
  maxAnswerMs: number;
  heapMB: { before: number; peak: number; after: number };
  /** Store calls still running 2 × delay after the last answer (must be 0). */
  inFlightAfter: number;
  /** Requests answered 2xx once the delay ended. */
  okAfter: number;
}

/** `waves` × `concurrent` requests at once against a store delayed `delayMs` per call, with storeTimeout below it. */
export async function slowStore(concurrent: number, waves: number, delayMs = 200, storeTimeout = "100ms"): Promise<SlowStoreReport> {
  const store = new SlowStore(delayMs);
  const manager = new SessionManager({ store, storeTimeout, gcInterval: 0 });
  const app = await listenOn(chaosApp(manager));
  const heap = () => Math.round(process.memoryUsage().heapUsed / 1e5) / 10;
  const send = (path: string, cookie?: string) => fetch(app.url + path, { method: "POST", headers: cookie ? { cookie } : {} });
  try {
    store.slow = false;
    const seeded = await Promise.all(Array.from({ length: concurrent }, () => send("/write/1")));
    const cookies = seeded.map((response) => response.headers.getSetCookie()[0]!.split(";")[0]!);
    store.slow = true;
    global.gc?.();
    const before = heap();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, heap())), 20);
    const report: SlowStoreReport = { scenario: `slow store (+${delayMs} ms per call, storeTimeout ${storeTimeout}), ${concurrent} concurrent × ${waves}`, requests: 0, typed503: 0, other: 0, maxAnswerMs: 0, heapMB: { before, peak, after: 0 }, inFlightAfter: 0, okAfter: 0 };
    for (let wave = 0; wave < waves; wave++) {
      progress(`slow store: wave ${wave + 1}/${waves}, ${store.inFlight} store calls in flight`);
      await Promise.all(cookies.map(async (cookie) => {
        const started = performance.now();
        const response = await send(`/write/${wave + 2}`, cookie).catch(() => undefined);
        const body = response ? await response.text() : "";
        report.maxAnswerMs = Math.max(report.maxAnswerMs, performance.now() - started);
        report.requests++;
        if (response?.status === 503 && body.includes('"code":"ERR_SESSION_STORE"')) report.typed503++;
        else report.other++;
      }));
    }
    clearInterval(sampler);
    await sleep(2 * delayMs);
    report.inFlightAfter = store.inFlight;
    store.slow = false;
    const after = await Promise.all(cookies.map((cookie) => send("/write/99", cookie)));
    report.okAfter = after.filter((response) => response.ok).length;
    global.gc?.();
    report.heapMB = { before, peak: Math.max(peak, heap()), after: heap() };
    report.maxAnswerMs = Math.round(report.maxAnswerMs);
    progress(`slow store: ${JSON.stringify(report)}`);
    return report;
  } finally {
    await app.close();
    await manager.close();
  }
}

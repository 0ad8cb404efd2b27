/**
 * Private servers for the chaos runs, each on spare loopback ports with its own directory, so a
 * fault never touches the shared servers (5432, 3306, 6379, 7101-7103). Each has a stop() that
 * the caller runs in a finally.
 */
import { execFile, spawn } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { sleep } from "./harness.js";

const run = promisify(execFile);
const root = new URL("../../", import.meta.url).pathname;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** `count` consecutive free ports (Redis Cluster also needs port + 10000 for its bus). */
export async function freePorts(count: number, withBus = false): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    const ports = Array.from({ length: count }, (_, i) => base + i);
    const all = withBus ? [...ports, ...ports.map((p) => p + 10_000)] : ports;
    if ((await Promise.all(all.map(portFree))).every(Boolean)) return base;
  }
}

/**
 * Makes the replica fall `lagMs` behind while the master keeps acknowledging writes: the replica is
 * held still (SIGSTOP, so it cannot reconnect) and the master drops its replication link (what was
 * already sent sits in the replica's socket buffer and would still arrive). Resumed (SIGCONT) by
 * the returned function; short enough (under the 1 s failure detection) to stay promotable.
 */
async function lagReplica(pidfile: string, masterPort: number, lagMs: number): Promise<() => void> {
  if (lagMs === 0) return () => {};
  const pid = Number(readFileSync(pidfile, "utf8"));
  process.kill(pid, "SIGSTOP");
  await redisCli(masterPort, "client", "kill", "type", "replica");
  await sleep(lagMs);
  return () => process.kill(pid, "SIGCONT");
}

/** SIGKILLs the process whose pid redis wrote to `pidfile`, and waits until it is gone. */
async function killPidFile(pidfile: string): Promise<void> {
  const pid = Number(readFileSync(pidfile, "utf8"));
  process.kill(pid, "SIGKILL");
  while (alive(pid)) await sleep(20);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function redisCli(port: number, ...args: string[]): Promise<string> {
  return (await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args])).stdout;
}

/** redis-cli's cluster manager (`--cluster …`), which exits non-zero when its check or move fails. */
async function cli(...args: string[]): Promise<string> {
  try {
    return (await run("redis-cli", args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (error) {
    const { stdout = "" } = error as { stdout?: string };
    throw new Error(`redis-cli ${args.join(" ")} failed: ${stdout.split("\n").filter((line) => /ERR|WARN/.test(line)).join(" | ") || stdout.slice(-500)}`, { cause: error });
  }
}

/** .ci/redis-sentinel.sh on ports of its own: master base, replica base+1, sentinels base+2..4. */
export class PrivateSentinel {
  readonly dir = mkdtempSync(join(tmpdir(), "sessionkit-sentinel-"));
  base = 0;

  get sentinels(): { host: string; port: number }[] {
    return [2, 3, 4].map((i) => ({ host: "127.0.0.1", port: this.base + i }));
  }

  #env(): NodeJS.ProcessEnv {
    return { ...process.env, REDIS_SENTINEL_BASE: String(this.base), REDIS_SENTINEL_DIR: join(this.dir, "servers") };
  }

  async start(): Promise<void> {
    this.base = await freePorts(5);
    await run("sh", [join(root, ".ci/redis-sentinel.sh"), "start"], { env: this.#env() });
  }

  async masterPort(): Promise<number> {
    const reply = await redisCli(this.base + 2, "sentinel", "get-master-addr-by-name", "mymaster");
    return Number(reply.trim().split("\n")[1]);
  }

  /**
   * SIGKILLs the master (after the replica lagged `lagMs`, during which `whileLagging` runs to its
   * end); resolves once the sentinels name another one, then restarts the old one as a replica.
   */
  async killMaster(lagMs = 0, whileLagging?: () => Promise<unknown>): Promise<{ failoverMs: number }> {
    const old = await this.masterPort();
    const replica = old === this.base ? this.base + 1 : this.base;
    const resume = await lagReplica(join(this.dir, "servers", String(replica), "pid"), old, lagMs);
    await whileLagging?.();
    const started = performance.now();
    await killPidFile(join(this.dir, "servers", String(old), "pid"));
    resume();
    while ((await this.masterPort()) === old) await sleep(50);
    const failoverMs = performance.now() - started;
    // As a supervisor would, the old master comes back as a replica of the new one (Sentinel
    // itself converts a returning master only after 8+ s; until then WAIT would find no replica).
    // It is not promotable (replica-priority 0) until it holds the new master's data: on a busy
    // machine the sentinels may judge the fresh master down and fail over again, and promoting a
    // replica still in its first sync empties the database (seen: 53 acknowledged writes lost).
    const conf = join(this.dir, "servers", String(old), "redis.conf");
    await run("redis-server", [conf, "--replicaof", "127.0.0.1", String(await this.masterPort()), "--replica-priority", "0"]);
    const deadline = performance.now() + 20_000;
    while (!(await redisCli(old, "info", "replication").catch(() => "")).includes("master_link_status:up") && performance.now() < deadline) await sleep(50);
    await redisCli(old, "config", "set", "replica-priority", "100");
    return { failoverMs };
  }

  async stop(): Promise<void> {
    await run("sh", [join(root, ".ci/redis-sentinel.sh"), "stop"], { env: this.#env() }).catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * .ci/redis-cluster.sh on ports of its own: 3 masters, with 1 replica each unless `replicas` is
 * false. Masters can be added and removed under load (addMaster, removeMaster).
 */
export class PrivateCluster {
  readonly dir = mkdtempSync(join(tmpdir(), "sessionkit-cluster-"));
  ports: number[] = [];

  constructor(readonly replicas = true) {}

  #env(): NodeJS.ProcessEnv {
    return { ...process.env, REDIS_CLUSTER_PORTS: this.ports.join(" "), REDIS_CLUSTER_DIR: join(this.dir, "nodes") };
  }

  async start(): Promise<void> {
    const count = this.replicas ? 6 : 3;
    const base = await freePorts(count, true);
    this.ports = Array.from({ length: count }, (_, i) => base + i);
    await run("sh", [join(root, ".ci/redis-cluster.sh"), "start", ...(this.replicas ? ["--replicas"] : [])], { env: this.#env() });
  }

  /** Starts an empty node on a spare port and joins it to the cluster as a master without slots; returns its port. */
  async addMaster(): Promise<number> {
    const port = await freePorts(1, true);
    this.ports.push(port); // stop() shuts it down with the others
    mkdirSync(join(this.dir, "nodes", String(port)), { recursive: true });
    await this.#launch(port);
    await cli("--cluster", "add-node", `127.0.0.1:${port}`, `127.0.0.1:${this.ports[0]}`);
    await this.#agreed();
    return port;
  }

  /**
   * Waits until every node is ok and sees the same nodes owning the same slots: redis-cli refuses
   * to move slots in a cluster whose nodes disagree, a joining node answers CLUSTERDOWN until it
   * has learnt the slots, and gossip takes a moment to spread a join or a move.
   */
  async #agreed(): Promise<void> {
    const view = async (port: number) => {
      const lines = (await redisCli(port, "cluster", "nodes")).trim().split("\n");
      if (lines.some((line) => /handshake|noaddr|fail/.test(line))) return `unsettled ${port}`;
      if (!(await redisCli(port, "cluster", "info")).includes("cluster_state:ok")) return `down ${port}`;
      return lines.map((line) => { const [id, , , , , , , , ...slots] = line.split(" "); return `${id} ${slots.join(" ")}`; }).sort().join("\n");
    };
    const deadline = performance.now() + 60_000;
    for (;;) {
      const views = await Promise.all(this.ports.map((port) => view(port).catch(() => `down ${port}`)));
      if (views.every((v) => v === views[0]) && views[0]!.split("\n").length === this.ports.length) return;
      if (performance.now() > deadline) throw new Error(`the cluster's nodes did not agree within 60 s: ${views.join(" / ")}`);
      await sleep(100);
    }
  }

  /** `redis-cli --cluster rebalance` with `options` (e.g. --cluster-use-empty-masters); returns the slots it moved. */
  async rebalance(...options: string[]): Promise<number> {
    await this.#agreed();
    const output = await cli("--cluster", "rebalance", `127.0.0.1:${this.#survivor()}`, "--cluster-pipeline", "100", ...options);
    return [...output.matchAll(/Moving (\d+) slots/g)].reduce((sum, [, slots]) => sum + Number(slots), 0);
  }

  /**
   * Moves every slot off the master on `port` to the others (rebalance with weight 0), runs
   * `--cluster del-node`, then stops the node. redis-cli 7's del-node only resets the node (CLUSTER
   * RESET SOFT) and leaves it running, and a node-redis client that still routes a slot there gets
   * "CLUSTERDOWN Hash slot not served" for good (node-redis#2806): the node is stopped, as an
   * operator decommissioning it would.
   */
  async removeMaster(port: number): Promise<number> {
    const id = (await redisCli(port, "cluster", "myid")).trim();
    const survivor = this.#survivor(port);
    const moved = await this.rebalance("--cluster-weight", `${id}=0`);
    await this.#agreed();
    await cli("--cluster", "del-node", `127.0.0.1:${survivor}`, id);
    await redisCli(port, "shutdown", "nosave").catch(() => {}); // the connection closes under redis-cli
    this.ports = this.ports.filter((p) => p !== port);
    await this.#agreed();
    return moved;
  }

  #survivor(leaving?: number): number {
    return this.ports.find((p) => p !== leaving)!;
  }

  /** The redis-server of node `port`, with the options .ci/redis-cluster.sh --replicas gives its nodes. */
  async #launch(port: number): Promise<void> {
    const dir = join(this.dir, "nodes", String(port));
    await run("redis-server", [
      "--cluster-enabled", "yes", "--cluster-config-file", join(dir, "nodes.conf"), "--dir", dir, "--cluster-node-timeout", "1000",
      "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "yes",
      "--pidfile", join(dir, "redis.pid"), "--logfile", join(dir, "redis.log"),
    ]);
    while (!(await redisCli(port, "ping").then((reply) => reply.includes("PONG"), () => false))) await sleep(20);
  }

  /**
   * SIGKILLs the master of slot 0 (after its replica lagged `lagMs`, during which `whileLagging`
   * runs to its end); resolves once the replica took over, then restarts the old node (it rejoins
   * as a replica).
   */
  async killMaster(lagMs = 0, whileLagging?: () => Promise<unknown>): Promise<{ failoverMs: number }> {
    const nodes = (await redisCli(this.ports[0]!, "cluster", "nodes")).split("\n");
    const line = nodes.find((l) => / 0-\d+$/.test(l.trim()) && l.includes("master"))!;
    const port = Number(/:(\d+)@/.exec(line)![1]);
    const replicaLine = nodes.find((l) => l.includes(` ${line.split(" ")[0]} `) && l.includes("slave"))!;
    const replica = Number(/:(\d+)@/.exec(replicaLine)![1]);
    const survivor = this.ports.find((p) => p !== port && p !== replica)!;
    const resume = await lagReplica(join(this.dir, "nodes", String(replica), "redis.pid"), port, lagMs);
    await whileLagging?.();
    const started = performance.now();
    await killPidFile(join(this.dir, "nodes", String(port), "redis.pid"));
    resume();
    // Done when another node owns slot 0 and the cluster is ok: restarting the old (empty) node
    // before its replica took over would let it keep its slots, empty.
    const promoted = async () => {
      const owner = (await redisCli(survivor, "cluster", "nodes")).split("\n").find((l) => / 0-\d+$/.test(l.trim()) && l.includes("master"));
      return owner !== undefined && !owner.includes(`:${port}@`) && (await redisCli(survivor, "cluster", "info")).includes("cluster_state:ok");
    };
    while (!(await promoted().catch(() => false))) await sleep(50);
    const failoverMs = performance.now() - started;
    await this.#launch(port);
    return { failoverMs };
  }

  async stop(): Promise<void> {
    await run("sh", [join(root, ".ci/redis-cluster.sh"), "stop"], { env: this.#env() }).catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function postgresBin(): string | undefined {
  if (process.env.POSTGRES_BIN) return process.env.POSTGRES_BIN;
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).filter((name) => existsSync(join(base, name, "bin", "initdb")));
  versions.sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(base, versions[0], "bin");
}

/** PostgreSQL refuses to run as root, so under root its tools run as the `postgres` OS user. */
async function asPostgres(command: string, args: string[]): Promise<void> {
  if (userInfo().uid === 0) await run("runuser", ["-u", "postgres", "--", command, ...args]);
  else await run(command, args);
}

/** A PostgreSQL of its own: initdb into a temp dir, own port and socket dir. */
export class PrivatePostgres {
  readonly dir = mkdtempSync(join(tmpdir(), "sessionkit-chaos-pg-"));
  readonly data = join(this.dir, "data");
  port = 0;
  constructor(readonly bin = postgresBin()!) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async start(): Promise<void> {
    if (userInfo().uid === 0) {
      const [{ stdout: uid }, { stdout: gid }] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
      chownSync(this.dir, Number(uid), Number(gid));
    }
    this.port = await freePorts(1);
    await asPostgres(join(this.bin, "initdb"), ["-D", this.data, "-A", "trust", "-U", "postgres", "--no-sync"]);
    await this.#ctl("start");
  }

  /** `pg_ctl restart -m fast`: clients are disconnected, the server checkpoints and comes back. */
  restart(): Promise<void> {
    return this.#ctl("restart", "-m", "fast");
  }

  #ctl(action: string, ...flags: string[]): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`;
    return asPostgres(join(this.bin, "pg_ctl"), ["-D", this.data, "-o", options, "-l", join(this.dir, "log"), "-w", ...flags, action]);
  }

  async stop(): Promise<void> {
    await asPostgres(join(this.bin, "pg_ctl"), ["-D", this.data, "-m", "immediate", "-w", "stop"]).catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A MariaDB of its own: mariadb-install-db into a temp datadir, own port and socket; SIGKILLed and restarted. */
export class PrivateMariaDB {
  readonly dir = mkdtempSync(join(tmpdir(), "sessionkit-chaos-mariadb-"));
  port = 0;
  #pid = 0;

  get url(): string {
    return `mysql://root@127.0.0.1:${this.port}/mysql`;
  }

  async start(): Promise<void> {
    this.port = await freePorts(1);
    await run("mariadb-install-db", [
      "--no-defaults", `--datadir=${join(this.dir, "data")}`, "--user=root", "--auth-root-authentication-method=normal",
      "--skip-test-db", "--skip-name-resolve",
    ]);
    await this.#launch();
  }

  async #launch(): Promise<void> {
    const child = spawn("/usr/sbin/mariadbd", [
      "--no-defaults", `--datadir=${join(this.dir, "data")}`, `--port=${this.port}`, "--bind-address=127.0.0.1",
      `--socket=${join(this.dir, "sock")}`, `--pid-file=${join(this.dir, "pid")}`, "--user=root", "--skip-name-resolve",
      "--innodb-buffer-pool-size=32M", "--skip-log-bin", `--log-error=${join(this.dir, "log")}`,
    ], { stdio: "ignore", detached: true });
    child.unref();
    this.#pid = child.pid!;
    const until = performance.now() + 60_000;
    while (!(await run("mariadb", ["-h", "127.0.0.1", "-P", String(this.port), "-u", "root", "-e", "SELECT 1"]).then(() => true, () => false))) {
      if (performance.now() > until) throw new Error(`private mariadbd did not come up: ${readFileSync(join(this.dir, "log"), "utf8").slice(-2000)}`);
      await sleep(100);
    }
  }

  /** SIGKILL (a crash: InnoDB recovers from its redo log on start), then start again on the same port and datadir. */
  async crashAndRestart(): Promise<void> {
    process.kill(this.#pid, "SIGKILL");
    while (alive(this.#pid)) await sleep(20);
    await this.#launch();
  }

  async stop(): Promise<void> {
    if (this.#pid && alive(this.#pid)) {
      process.kill(this.#pid, "SIGKILL");
      while (alive(this.#pid)) await sleep(20);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

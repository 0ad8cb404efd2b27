/**
 * Soak: many requests per server store through Express (sessionkit/express), mixed read / write /
 * sign-in / regenerate / destroy, by concurrent clients. Reports heap, active handles and store
 * connections at start and end, p99 latency per tenth of the run, and checks that the store holds
 * exactly the sessions the clients still have (no orphan records) and that every user's session
 * list names exactly that user's live sessions (no orphan or missing index entries). "Start" is at
 * 10 % of the run, when every connection is open; "end" is after the last request.
 *   npm run soak                         # 1,000,000 requests per store (redis, postgres, mysql)
 *   npm run soak -- --stores cluster     # Redis Cluster (REDIS_CLUSTER_NODES, as .ci/redis-cluster.sh starts it)
 *   npm run soak -- --requests 50000 --stores redis,postgres
 * Uses the shared servers (REDIS_URL, POSTGRES_URL, MYSQL_URL) with a key prefix / table of its own.
 * Progress on stderr, the table on stdout.
 */
import { createHistogram } from "node:perf_hooks";
import mysql from "mysql2/promise";
import pg from "pg";
import { createClient, createCluster } from "redis";
import { SessionManager } from "../src/core/manager.js";
import type { SessionStore } from "../src/core/store.js";
import { MySQLStore } from "../src/stores/mysql.js";
import { PostgresStore } from "../src/stores/postgres.js";
import { RedisStore } from "../src/stores/redis.js";
import { chaosApp, cookieOf, listenOn, progress } from "./chaos/harness.js";

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : fallback);
const REQUESTS = Number(flag("--requests", "1000000"));
const STORES = flag("--stores", "redis,postgres,mysql").split(",");
const CLIENTS = Number(flag("--clients", "32"));
const SEGMENTS = 10;
const USERS = 16;
const tag = `soak${process.pid}`;

interface Subject {
  store: SessionStore;
  /** Every record the store holds under this run's prefix/table, expired or not. */
  records(): Promise<number>;
  connections(): Promise<number>;
  close(): Promise<void>;
}

const subjects: Record<string, () => Promise<Subject>> = {
  redis: async () => {
    const client = createClient({ url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379", name: tag });
    client.on("error", () => {});
    await client.connect();
    const store = new RedisStore({ client, prefix: `${tag}:` });
    return {
      store,
      records: () => store.count(),
      connections: async () => String(await client.sendCommand(["CLIENT", "LIST"])).split("\n").filter((line) => line.includes(` name=${tag} `)).length,
      close: async () => {
        // The shared server keeps nothing of the run (the SQL subjects drop their table).
        for await (const keys of client.scanIterator({ MATCH: `${tag}:*`, COUNT: 1000 })) if (keys.length > 0) await client.del(keys);
        await client.close();
      },
    };
  },
  cluster: async () => {
    const rootNodes = (process.env.REDIS_CLUSTER_NODES ?? "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103").split(",").map((address) => ({ url: `redis://${address}` }));
    const client = createCluster({ rootNodes, defaults: { name: tag } });
    client.on("error", () => {});
    await client.connect();
    const store = new RedisStore({ client, prefix: `${tag}:` });
    // Connections named for this run, summed over the masters.
    const connections = async () => {
      let total = 0;
      for (const master of client.masters) {
        const node = await client.nodeClient(master);
        total += String(await node.sendCommand(["CLIENT", "LIST"])).split("\n").filter((line) => line.includes(` name=${tag} `)).length;
      }
      return total;
    };
    return {
      store,
      records: () => store.count(),
      connections,
      close: async () => {
        await client.close();
      },
    };
  },
  postgres: async () => {
    const pool = new pg.Pool({ connectionString: process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test", application_name: tag, max: 10 });
    const store = new PostgresStore({ pool, tableName: tag });
    const one = async (sql: string, params: unknown[] = []) => Number(Object.values((await pool.query(sql, params)).rows[0] as object)[0]);
    return {
      store,
      records: () => one(`SELECT count(*) FROM ${tag}`),
      connections: () => one("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", [tag]),
      close: async () => {
        await pool.query(`DROP TABLE IF EXISTS ${tag}`);
        await pool.end();
      },
    };
  },
  mysql: async () => {
    const pool = mysql.createPool({ uri: process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test", connectionLimit: 10 });
    const store = new MySQLStore({ pool, tableName: tag });
    return {
      store,
      records: async () => Number(((await pool.query(`SELECT count(*) AS n FROM ${tag}`))[0] as { n: number }[])[0]!.n),
      // mysql2 keeps no public count; its pool's connection list is what it holds open.
      connections: async () => (pool.pool as unknown as { _allConnections: { length: number } })._allConnections.length,
      close: async () => {
        await pool.query(`DROP TABLE IF EXISTS ${tag}`);
        await pool.end();
      },
    };
  },
};

interface Snapshot {
  heapMB: number;
  handles: number;
  connections: number;
}

async function snapshot(subject: Subject): Promise<Snapshot> {
  global.gc?.();
  return {
    heapMB: Math.round(process.memoryUsage().heapUsed / 1e5) / 10,
    handles: process.getActiveResourcesInfo().length,
    connections: await subject.connections(),
  };
}

/** Live sessions by cookie, with the user each is signed in as (undefined: anonymous). */
type Live = Map<string, string | undefined>;

/** One client's sessions: cookie per slot (undefined = not created yet). */
async function client(url: string, budget: { left: number }, live: Live, segment: () => ReturnType<typeof createHistogram>, errors: { n: number }): Promise<void> {
  const cookies: (string | undefined)[] = [undefined, undefined, undefined, undefined];
  let value = 0;
  for (let turn = 0; budget.left-- > 0; turn++) {
    const slot = turn % cookies.length;
    const cookie = cookies[slot];
    const roll = Math.random();
    const user = `user${Math.floor(Math.random() * USERS)}`;
    const path =
      !cookie || roll < 0.35 ? `/write/${++value}` : roll < 0.85 ? "/read" : roll < 0.9 ? `/signin/${user}` : roll < 0.95 ? "/regenerate" : "/destroy";
    const started = process.hrtime.bigint();
    const response = await fetch(url + path, { method: path === "/read" ? "GET" : "POST", headers: cookie ? { cookie } : {} });
    await response.arrayBuffer();
    segment().record(Number(process.hrtime.bigint() - started) || 1);
    if (!response.ok) {
      errors.n++;
      continue;
    }
    const next = path === "/destroy" ? undefined : (cookieOf(response) ?? cookie);
    const owner = path.startsWith("/signin/") ? user : cookie ? live.get(cookie) : undefined;
    if (cookie) live.delete(cookie);
    if (next) live.set(next, owner);
    cookies[slot] = next;
  }
}

async function soak(name: string): Promise<string> {
  const subject = await subjects[name]!();
  const manager = new SessionManager({ store: subject.store, gcInterval: 0 });
  const app = await listenOn(chaosApp(manager));
  try {
    // Creates the table and warms the path. Its session is destroyed at once: left idle, it would
    // expire natively on Redis during a run longer than idleTimeout and look like a lost session.
    const warmUp = await fetch(`${app.url}/write/0`, { method: "POST" });
    await warmUp.arrayBuffer();
    await fetch(`${app.url}/destroy`, { method: "POST", headers: { cookie: cookieOf(warmUp)! } }).then((r) => r.arrayBuffer());
    const segments = Array.from({ length: SEGMENTS }, () => createHistogram());
    const budget = { left: REQUESTS };
    const live: Live = new Map();
    const errors = { n: 0 };
    const segmentOf = () => segments[Math.min(SEGMENTS - 1, Math.floor(((REQUESTS - budget.left) / REQUESTS) * SEGMENTS))]!;
    const ticker = setInterval(() => progress(`soak ${name}: ${REQUESTS - Math.max(0, budget.left)} / ${REQUESTS}`), 10_000);
    const began = performance.now();
    const clients = Promise.all(Array.from({ length: CLIENTS }, () => client(app.url, budget, live, segmentOf, errors)));
    // "Start" is taken once the run is warm (10 % done: every client connected, every pool filled), so start → end compares like with like.
    while (budget.left > REQUESTS * 0.9) await new Promise((resolve) => setTimeout(resolve, 20));
    const start = await snapshot(subject);
    await clients;
    clearInterval(ticker);
    const seconds = (performance.now() - began) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 200)); // let idle keep-alive sockets settle
    const end = await snapshot(subject);
    const records = await subject.records();
    const indexed = await usersMatch(manager, live);
    const p99 = segments.map((h) => (h.percentile(99) / 1e6).toFixed(1)).join(" / ");
    const expected = live.size;
    progress(`soak ${name}: done in ${seconds.toFixed(0)} s; store holds ${records}, clients hold ${expected}`);
    const ok = records === expected && indexed.listed === indexed.expected;
    return `| ${name} | ${REQUESTS} | ${Math.round(REQUESTS / seconds)} | ${errors.n} | ${start.heapMB} → ${end.heapMB} | ${start.handles} → ${end.handles} | ${start.connections} → ${end.connections} | ${p99} | ${records} / ${expected} | ${indexed.listed} / ${indexed.expected} | ${ok ? "✓" : "✗"} |`;
  } finally {
    await app.close();
    await manager.close();
    await subject.close();
  }
}

/** Sessions listSessions names per user, summed, against the signed-in sessions the clients hold; any user's mismatch counts as a difference. */
async function usersMatch(manager: SessionManager, live: Live): Promise<{ listed: number; expected: number }> {
  let listed = 0;
  let expected = 0;
  for (let i = 0; i < USERS; i++) {
    const user = `user${i}`;
    const held = [...live.values()].filter((owner) => owner === user).length;
    const count = (await manager.listSessions(user)).length;
    expected += held;
    listed += count === held ? count : count + 1_000_000; // a mismatch must not cancel out across users
  }
  return { listed, expected };
}

const rows: string[] = [];
for (const name of STORES) rows.push(await soak(name));
console.log(
  [
    `Soak: ${REQUESTS} requests per store, ${CLIENTS} clients, ops 35% write / 50% read / 5% sign-in (${USERS} users) / 5% regenerate / 5% destroy`,
    "",
    "| store | requests | req/s | 5xx | heap MB at 10 % → end | active handles at 10 % → end | store connections at 10 % → end | p99 ms per tenth of the run | records in store / live sessions | listSessions / signed-in sessions | |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n"),
);
process.exit(rows.every((row) => row.endsWith("✓ |")) ? 0 : 1);

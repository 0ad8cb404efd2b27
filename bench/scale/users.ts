/**
 * Per user (issue 30): what listSessions, revokeUser and signIn cost for a user with 1, 100 and
 * 10,000 sessions, through the manager, on every server store; signIn under a cap of 5 on a user
 * at the cap; and the same calls on a user of 3 sessions with and without a million other users
 * of 3 sessions each in the store (memory, PostgreSQL, Redis), filled in bulk.
 *
 *   npx tsx bench/scale/users.ts [--stores memory,file,redis,redis-cluster,postgres,mysql,sqlite] [--per-user 1,100,10000] [--other-users 1000000] [--smoke]
 *
 * A user's own sessions are made through the manager (signIn, 32 at a time). Each store gets a
 * namespace of its own, removed afterwards. Medians in ms. Writes bench/results/scale/users.json.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster } from "ioredis";
import pg from "pg";
import { createClient } from "redis";
import type { SessionStore } from "../../src/core/store.js";
import { SessionManager } from "../../src/index.js";
import { FileStore } from "../../src/stores/file.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { MySQLStore } from "../../src/stores/mysql.js";
import { PostgresStore } from "../../src/stores/postgres.js";
import { RedisStore } from "../../src/stores/redis.js";
import { SqliteStore } from "../../src/stores/sqlite.js";
import { MYSQL_URL, POSTGRES_URL, REDIS_URL } from "../lib.js";
import type { Curve, StoreName, Table } from "./part-kit.js";
import { ALL_STORES, PAYLOAD, clusterNodes, fillPostgres, log, ms, numberList, partArgs, privateName, writePart } from "./part-kit.js";
import mysql from "mysql2/promise";

const { smoke, stores, skipped } = await partArgs(ALL_STORES);
const PER_USER = numberList("--per-user", smoke ? [1, 10, 100] : [1, 100, 10_000]);
const OTHER_USERS = numberList("--other-users", [smoke ? 1_000 : 1_000_000])[0]!;
const CROWD_STORES: StoreName[] = ["memory", "postgres", "redis"];
const CAP = 5;
const FILL_CONCURRENCY = 32;
const HOUR = 3_600_000;

type Manager = SessionManager<Record<string, unknown>>;

interface Opened {
  store: SessionStore;
  /** Puts `users` users of 3 sessions each into the store, by its bulk path (crowd stores only). */
  crowd?: (users: number) => Promise<void>;
  cleanup(): Promise<void>;
}

const unique = () => randomBytes(4).toString("hex");

/** Three sessions per user `crowd<u>`, keys `c<u>x<n>`: the records and, where separate, the owner index. */
const openers: Record<StoreName, () => Promise<Opened>> = {
  memory: async () => {
    const store = new MemoryStore();
    const crowd = async (users: number) => {
      for (let u = 0; u < users; u++) {
        for (let n = 0; n < 3; n++) store.set(`c${u}x${n}`, { data: PAYLOAD, expiresAt: Date.now() + HOUR, version: 1, expectedVersion: 0, owner: `crowd${u}` });
      }
    };
    return { store, crowd, cleanup: async () => store.close() };
  },
  file: async () => {
    const dir = await mkdtemp(join(tmpdir(), "sk-scale-users-"));
    return { store: new FileStore({ dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
  },
  sqlite: async () => {
    const dir = await mkdtemp(join(tmpdir(), "sk-scale-users-"));
    const store = new SqliteStore({ path: join(dir, "sessions.db") });
    return { store, cleanup: async () => (await store.close(), await rm(dir, { recursive: true, force: true })) };
  },
  redis: async () => {
    const client = createClient({ url: REDIS_URL });
    client.on("error", () => {});
    await client.connect();
    const prefix = `sk-scale-users:${unique()}:`;
    const crowd = async (users: number) => {
      const now = Date.now();
      for (let start = 0; start < users; start += 2_000) {
        const batch = client.multi();
        for (let u = start; u < Math.min(users, start + 2_000); u++) {
          for (let n = 0; n < 3; n++) {
            const key = `c${u}x${n}`;
            batch.hSet(`${prefix}${key}`, { d: PAYLOAD, e: String(now + HOUR), v: "1", o: `crowd${u}` });
            batch.pExpireAt(`${prefix}${key}`, now + HOUR);
            batch.hSet(`${prefix}owner:{crowd${u}}`, key, `${now + HOUR}:${now}`);
          }
          batch.pExpireAt(`${prefix}owner:{crowd${u}}`, now + HOUR);
        }
        await batch.execAsPipeline();
      }
    };
    const cleanup = async () => {
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length > 0) await client.unlink(keys);
      await client.close();
    };
    return { store: new RedisStore({ client, prefix }), crowd, cleanup };
  },
  "redis-cluster": async () => {
    const client = new Cluster(clusterNodes());
    await new Promise((resolve, reject) => (client.once("ready", resolve), client.once("error", reject)));
    const prefix = `sk-scale-users:${unique()}:`;
    const cleanup = async () => {
      for (const node of client.nodes("master")) {
        let cursor = "0";
        do {
          const [next, keys] = await node.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
          cursor = next;
          for (const key of keys) await node.unlink(key);
        } while (cursor !== "0");
      }
      await client.quit();
    };
    return { store: new RedisStore({ client, prefix }), cleanup };
  },
  postgres: async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 10 });
    const tableName = privateName("users");
    const crowd = async (users: number) => {
      await fillPostgres(pool, tableName, { prefix: "c", from: 0, to: users * 3 - 1, expiresAt: Date.now() + HOUR, data: PAYLOAD, owner: "'crowd' || (g / 3)" });
      await pool.query(`VACUUM ANALYZE "${tableName}"`);
    };
    const cleanup = async () => {
      await pool.query(`DROP TABLE IF EXISTS "${tableName}"`);
      await pool.end();
    };
    return { store: new PostgresStore({ pool, tableName }), crowd, cleanup };
  },
  mysql: async () => {
    const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 10 });
    const tableName = privateName("users");
    const cleanup = async () => {
      await pool.query(`DROP TABLE IF EXISTS \`${tableName}\``);
      await pool.end();
    };
    return { store: new MySQLStore({ pool, tableName }), cleanup };
  },
};

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Median ms of `rounds` calls of `measured`, each after its own untimed `setup`. */
async function timed(rounds: number, measured: () => Promise<unknown>, setup?: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    await setup?.();
    const started = performance.now();
    await measured();
    times.push(performance.now() - started);
  }
  return median(times);
}

async function signIn(sessions: Manager, userId: string): Promise<void> {
  const session = await sessions.load();
  await session.signIn(userId);
  await sessions.commit(session);
}

/** Gives `userId` `count` sessions more, FILL_CONCURRENCY sign-ins at a time. */
async function grow(sessions: Manager, userId: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += FILL_CONCURRENCY) {
    await Promise.all(Array.from({ length: Math.min(FILL_CONCURRENCY, count - start) }, () => signIn(sessions, userId)));
  }
}

const rounds = (perUser: number) => (smoke ? 3 : perUser >= 10_000 ? 3 : perUser >= 100 ? 5 : 15);

interface UserFigures {
  list: number;
  revoke: number;
  signIn: number;
}

/** listSessions, signIn (no cap) and revokeUser for a user with `perUser` sessions. */
async function perUserCalls(sessions: Manager, perUser: number, tag: string): Promise<UserFigures> {
  const user = `u${tag}`;
  await grow(sessions, user, perUser);
  const list = await timed(rounds(perUser), async () => {
    const listed = await sessions.listSessions(user);
    if (listed.length < perUser) throw new Error(`listSessions saw ${listed.length} of ${perUser}`);
  });
  // signIn is cheap at every size: 15 rounds, as its median at 3 rounds swung 1–30 ms on a busy machine.
  const signInMs = await timed(smoke ? 3 : 15, () => signIn(sessions, user));
  // revokeUser empties the user, so each further round first refills it (untimed); 10k: one round.
  let first = true;
  const revoke = await timed(perUser >= 10_000 ? 1 : rounds(perUser), () => sessions.revokeUser(user), async () => {
    if (!first) await grow(sessions, user, perUser);
    first = false;
  });
  return { list, revoke, signIn: signInMs };
}

/** signIn on a user already at the cap (each one ends the oldest session). */
async function cappedSignIn(store: SessionStore): Promise<number> {
  const capped: Manager = new SessionManager({ store, gcInterval: 0, maxSessionsPerUser: CAP });
  const user = `capped${unique()}`;
  await grow(capped, user, CAP);
  const time = await timed(15, () => signIn(capped, user));
  const left = (await capped.listSessions(user)).length;
  if (left !== CAP) throw new Error(`a capped user holds ${left} sessions, not ${CAP}`);
  return time;
}

const perUserRows: (string | number)[][] = [];
const cappedRows: (string | number)[][] = [];
const crowdRows: (string | number)[][] = [];
const curves: Record<"list" | "revoke" | "signIn", Curve> = {
  list: { id: "users-list-vs-sessions", title: "listSessions vs the user's sessions", xLabel: "sessions of the user", yLabel: "ms (median)", logX: true, logY: true, series: [] },
  revoke: { id: "users-revoke-vs-sessions", title: "revokeUser vs the user's sessions", xLabel: "sessions of the user", yLabel: "ms", logX: true, logY: true, series: [] },
  signIn: { id: "users-signin-vs-sessions", title: "signIn (no cap) vs the user's sessions", xLabel: "sessions of the user", yLabel: "ms (median)", logX: true, logY: true, series: [] },
};

for (const name of stores) {
  log(`users: ${name}`);
  const opened = await openers[name]();
  const sessions: Manager = new SessionManager({ store: opened.store, gcInterval: 0 });
  try {
    const points = { list: [] as [number, number][], revoke: [] as [number, number][], signIn: [] as [number, number][] };
    for (const perUser of PER_USER) {
      const started = performance.now();
      const figures = await perUserCalls(sessions, perUser, `${perUser}`);
      log(`${name}: ${perUser} sessions/user done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      perUserRows.push([name, perUser, ms(figures.list), ms(figures.list / perUser, 4), ms(figures.revoke), ms(figures.revoke / perUser, 4), ms(figures.signIn)]);
      points.list.push([perUser, ms(figures.list, 3)]);
      points.revoke.push([perUser, ms(figures.revoke, 3)]);
      points.signIn.push([perUser, ms(figures.signIn, 3)]);
    }
    for (const kind of ["list", "revoke", "signIn"] as const) curves[kind].series.push({ name, points: points[kind] });
    cappedRows.push([name, CAP, ms(await cappedSignIn(opened.store))]);
    if (opened.crowd && CROWD_STORES.includes(name) && OTHER_USERS > 0) {
      const alone = await perUserCalls(sessions, 3, "alone");
      const started = performance.now();
      await opened.crowd(OTHER_USERS);
      const fillS = (performance.now() - started) / 1000;
      log(`${name}: ${OTHER_USERS} other users filled in ${fillS.toFixed(1)} s`);
      const crowded = await perUserCalls(sessions, 3, "crowded");
      const ratio = (after: number, before: number) => ms(after / before, 2);
      crowdRows.push([
        name, OTHER_USERS, ms(fillS, 1), ms(alone.list), ms(crowded.list), ratio(crowded.list, alone.list), ms(alone.revoke), ms(crowded.revoke),
        ratio(crowded.revoke, alone.revoke), ms(alone.signIn), ms(crowded.signIn), ratio(crowded.signIn, alone.signIn),
      ]);
    }
  } finally {
    await sessions.close();
    await opened.cleanup();
  }
}

const tables: Table[] = [
  {
    title: "Per-user calls through the manager, by the user's number of sessions (median ms)",
    columns: ["store", "sessions of the user", "listSessions (ms)", "per session (ms)", "revokeUser (ms)", "per session (ms)", "signIn, no cap (ms)"],
    rows: perUserRows,
  },
  { title: `signIn under maxSessionsPerUser ${CAP} on a user at the cap (ends the oldest; median ms)`, columns: ["store", "cap", "signIn (ms)"], rows: cappedRows },
  {
    title: `A user of 3 sessions, alone and among ${OTHER_USERS} other users of 3 sessions each (median ms)`,
    columns: ["store", "other users", "bulk fill (s)", "listSessions alone", "among others", "ratio", "revokeUser alone", "among others", "ratio", "signIn alone", "among others", "ratio"],
    rows: crowdRows,
  },
];
writePart("users", { smoke, perUser: PER_USER, otherUsers: OTHER_USERS, crowdStores: CROWD_STORES, cap: CAP, skipped }, tables, Object.values(curves));

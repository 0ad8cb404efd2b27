/**
 * The peers' bytes per session for the same session data as the live part, written directly in
 * each peer's own format (what its store's `set` writes), in bulk: express-session's MemoryStore
 * (through its `set`), connect-redis (SET prefix+sid JSON EX ttl), connect-pg-simple and
 * express-mysql-session (their documented tables, filled server-side).
 */
import { createHash } from "node:crypto";
import session from "express-session";
import mysql from "mysql2/promise";
import pg from "pg";
import { createClient } from "redis";
import { MYSQL_URL, POSTGRES_URL, reachable, REDIS_URL } from "../lib.js";
import { inChunks, innodbTableBytes, pgTableBytes, unique } from "./live-stores.js";

/** The session data every store and peer holds: a signed-in user with a CSRF token and a small cart. */
export const PAYLOAD = {
  user: "user-0001234",
  csrf: "Wm9vLWJhci1iYXotcXV4LWNzcmYtdG9rZW4tZXhhbXBsZQ",
  roles: ["reader", "editor"],
  cart: [{ sku: "A-100", qty: 2 }],
  theme: "dark",
};

const TTL_SECONDS = 86_400;

/** What express-session stores: the data beside its cookie object (Cookie#toJSON, defaults plus SameSite=Lax). */
function expressSessionJson(): string {
  const expires = new Date(Date.now() + TTL_SECONDS * 1000).toISOString();
  return JSON.stringify({ cookie: { originalMaxAge: TTL_SECONDS * 1000, expires, secure: false, httpOnly: true, path: "/", sameSite: "lax" }, ...PAYLOAD });
}

/** An express-session id: uid-safe(24), 32 base64url characters. */
const sidOf = (n: number) => createHash("sha256").update(`peer:${n}`).digest("base64url").slice(0, 32);

export interface PeerFootprint {
  name: string;
  n: number;
  bytesPerSession: number;
  sampledBytes?: number;
  method: string;
}

interface Peer {
  name: string;
  /** Which live-part store this peer stands beside (its selection follows that store's). */
  beside: string;
  url?: string;
  measure(n: number): Promise<PeerFootprint>;
}

const memoryPeer: Peer = {
  name: "express-session MemoryStore",
  beside: "memory",
  async measure(n) {
    const heap = () => (globalThis.gc?.(), process.memoryUsage().heapUsed);
    const before = heap();
    const store = new session.MemoryStore();
    const sess = JSON.parse(expressSessionJson()) as session.SessionData;
    for (let i = 0; i < n; i++) store.set(sidOf(i), sess);
    const after = heap();
    // Used after the heap is read, so V8 cannot free the store before (a local it sees as dead is no GC root).
    const last = await new Promise<session.SessionData | null | undefined>((resolve, reject) => store.get(sidOf(n - 1), (error, found) => (error ? reject(error) : resolve(found))));
    if (!last) throw new Error("express-session's MemoryStore lost a session");
    const bytesPerSession = (after - before) / n;
    return { name: this.name, n, bytesPerSession, method: "V8 heap delta / N (after global.gc())" };
  },
};

const redisPeer: Peer = {
  name: "connect-redis",
  beside: "redis",
  url: REDIS_URL,
  async measure(n) {
    const client = createClient({ url: REDIS_URL });
    client.on("error", () => {});
    await client.connect();
    const prefix = `scale-live:${unique()}:sess:`;
    const used = async () => Number(/used_memory:(\d+)/.exec(String(await client.sendCommand(["INFO", "memory"])))![1]);
    try {
      const before = await used();
      const json = expressSessionJson();
      await inChunks(0, n, 10_000, async (start, end) => {
        const writes: Promise<unknown>[] = [];
        for (let i = start; i < end; i++) writes.push(client.sendCommand(["SET", prefix + sidOf(i), json, "EX", String(TTL_SECONDS)]));
        await Promise.all(writes);
      });
      const bytesPerSession = ((await used()) - before) / n;
      let sampled = 0;
      for (let i = 0; i < 200; i++) sampled += Number(await client.sendCommand(["MEMORY", "USAGE", prefix + sidOf(Math.floor((i * n) / 200)), "SAMPLES", "0"]));
      return { name: this.name, n, bytesPerSession, sampledBytes: sampled / 200, method: "INFO used_memory delta / N; MEMORY USAGE sampled beside it" };
    } finally {
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 5000 })) if (keys.length > 0) await client.unlink(keys);
      await client.close();
    }
  },
};

const pgSid = (n: string) => `left(rtrim(translate(encode(sha256(convert_to('peer:' || ${n}, 'UTF8')), 'base64'), '+/', '-_'), '='), 32)`;

const pgPeer: Peer = {
  name: "connect-pg-simple",
  beside: "postgres",
  url: POSTGRES_URL,
  async measure(n) {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    const table = `scale_live_peer_${unique()}`;
    try {
      // connect-pg-simple's table.sql, under a private name.
      await pool.query(`CREATE TABLE "${table}" ("sid" varchar NOT NULL COLLATE "default", "sess" json NOT NULL, "expire" timestamp(6) NOT NULL)`);
      await pool.query(`ALTER TABLE "${table}" ADD CONSTRAINT "${table}_pkey" PRIMARY KEY ("sid")`);
      await pool.query(`CREATE INDEX "${table}_expire" ON "${table}" ("expire")`);
      await inChunks(0, n, 1_000_000, async (start, end) => {
        await pool.query(`INSERT INTO "${table}" SELECT ${pgSid("g")}, $1::json, now() + interval '1 day' FROM generate_series($2::int, $3::int) g`, [
          expressSessionJson(),
          start,
          end - 1,
        ]);
      });
      await pool.query(`VACUUM ANALYZE "${table}"`);
      return { name: this.name, n, bytesPerSession: (await pgTableBytes(pool, table)) / n, method: "pg_total_relation_size (its table.sql: table, TOAST, pkey, expire index) / N" };
    } finally {
      await pool.query(`DROP TABLE IF EXISTS "${table}"`);
      await pool.end();
    }
  },
};

const mysqlSid = (n: string) => `LEFT(TRIM(TRAILING '=' FROM REPLACE(REPLACE(TO_BASE64(UNHEX(SHA2(CONCAT('peer:', ${n}), 256))), '+', '-'), '/', '_')), 32)`;

const mysqlPeer: Peer = {
  name: "express-mysql-session",
  beside: "mysql",
  url: MYSQL_URL,
  async measure(n) {
    const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 1 });
    const table = `scale_live_peer_${unique()}`;
    try {
      // express-mysql-session's schema.sql, under a private name.
      await pool.query(`CREATE TABLE \`${table}\` (\`session_id\` varchar(128) COLLATE utf8mb4_bin NOT NULL, \`expires\` int(11) unsigned NOT NULL,
        \`data\` mediumtext COLLATE utf8mb4_bin, PRIMARY KEY (\`session_id\`)) ENGINE=InnoDB`);
      const expires = Math.round(Date.now() / 1000) + TTL_SECONDS;
      await inChunks(0, n, 250_000, async (start, end) => {
        await pool.query(`INSERT INTO \`${table}\` SELECT ${mysqlSid("seq")}, ?, ? FROM seq_${start}_to_${end - 1}`, [expires, expressSessionJson()]);
      });
      return { name: this.name, n, bytesPerSession: (await innodbTableBytes(pool, table)) / n, method: "data_length + index_length after ANALYZE TABLE (its schema.sql) / N" };
    } finally {
      await pool.query(`DROP TABLE IF EXISTS \`${table}\``);
      await pool.end();
    }
  },
};

const peers: Peer[] = [memoryPeer, redisPeer, pgPeer, mysqlPeer];

/** The live-part store a peer stands beside. */
export const besideOf = (peerName: string): string | undefined => peers.find((peer) => peer.name === peerName)?.beside;

/** Each peer beside a selected store (all when `stores` is undefined) whose server answers, at `n` sessions. */
export async function measurePeers(n: number, stores: string[] | undefined): Promise<PeerFootprint[]> {
  const footprints: PeerFootprint[] = [];
  for (const peer of peers) {
    if (stores && !stores.includes(peer.beside)) continue;
    if (peer.url && !(await reachable(peer.url))) continue;
    process.stderr.write(`[scale live] peer ${peer.name} at N=${n}\n`);
    footprints.push(await peer.measure(n));
  }
  return footprints;
}

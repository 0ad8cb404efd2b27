/**
 * Sessions in Redis or Valkey, through a client the application already has: node-redis 4+
 * (`createClient`, `createCluster`, 5+ `createSentinel`), ioredis or iovalkey (`Redis`, also with
 * `sentinels`, and `Cluster`), or Valkey GLIDE (`GlideClient`, `GlideClusterClient`). No driver is
 * imported: the client is recognised by its shape, so installing any one of them is enough.
 *
 * One session is one hash `${prefix}${key}` = { d: data, e: expiresAt, v: version, o: owner? } with
 * a PEXPIREAT at `e`, so Redis deletes it itself (no gc). Every session call touches that one key
 * only, which is why a Cluster needs no hash tags: each session lives whole on the master owning its slot.
 *
 * The sessions of one owner are listed from an index hash `${prefix}owner:{${owner}}` = { key:
 * "<keepUntil>:<indexedAt>" }, written by indexOwner before the record (the manager's order), so it
 * never misses a live session. The braces are a hash tag: an owner's index stays in one slot. Its
 * field "" (never a session key) holds where a sign-in's bounded sweep for stale entries goes on:
 * every call stays on one key, so none can meet TRYAGAIN while a slot migrates.
 */
import { createHash } from "node:crypto";
import type { Duration } from "../core/duration.js";
import { toMilliseconds } from "../core/duration.js";
import { SessionStoreError } from "../core/errors.js";
import type { OwnedSession, SessionStore, SessionWrite, StoreCallOptions, StoredSession } from "../core/store.js";
import { PENDING_GRACE_MS } from "../core/store.js";
import type { Command, Driver, RedisClientLike } from "./redis/clients.js";
import { driverFor } from "./redis/clients.js";

export type {
  GlideClientLike,
  GlideRoute,
  IoRedisLike,
  NodeRedisClientLike,
  NodeRedisClusterLike,
  NodeRedisCommandOptions,
  NodeRedisSentinelLike,
  RedisClientLike,
} from "./redis/clients.js";


export interface RedisStoreOptions {
  /** A connected node-redis or ioredis client or cluster. Required. */
  client: RedisClientLike;
  /** Default "sess:": namespace of the keys, so sessions can share a database with other data. */
  prefix?: string;
  /** Default false: close() leaves the client open, because the application owns it. True for clients made for the store. */
  ownsClient?: boolean;
  /** Default 1000: SCAN's COUNT hint in count(); larger means fewer round trips but longer server pauses. */
  scanCount?: number;
  /**
   * Default 0 (off): after each write or destroy, WAIT until this many replicas have it, so a commit the
   * client sees as done survives a failover (Redis replicates asynchronously). Fewer replicas
   * within `waitTimeout` fail the commit with SessionStoreError `outcome: "unknown"`: the write
   * is on the master and may or may not survive, so it is never reported as a success.
   * Whatever it is, a write that ends a session (a destroy, a `final` set: logout, revocation, the
   * old id of a rotation) waits for max(1, waitReplicas) replicas when the master has any: a lost
   * one would bring an ended session back.
   */
  waitReplicas?: number;
  /** Default "100ms": how long WAIT waits for replicas; keep it under the manager's storeTimeout. */
  waitTimeout?: Duration;
}


// Compare-and-set in one round trip. `now` comes from the app so that "expired" means the
// same here as in get(), even if Redis's clock is a few ms behind its own expiry. Over a live
// record the expiry becomes max(stored, written): a slow request never shortens the session.
// The owner travels in the same write (ARGV[6], "" for none), so a signed-in commit costs nothing more.
const SET_SCRIPT = `
local e = redis.call('HGET', KEYS[1], 'e')
local live = e and tonumber(e) > tonumber(ARGV[5])
local v = 0
if live then v = tonumber(redis.call('HGET', KEYS[1], 'v')) end
if v ~= tonumber(ARGV[1]) then return 0 end
local expiresAt = ARGV[3]
if live and tonumber(e) > tonumber(expiresAt) then expiresAt = e end
redis.call('HSET', KEYS[1], 'd', ARGV[2], 'e', expiresAt, 'v', ARGV[4])
if ARGV[6] == '' then redis.call('HDEL', KEYS[1], 'o') else redis.call('HSET', KEYS[1], 'o', ARGV[6]) end
redis.call('PEXPIREAT', KEYS[1], expiresAt)
return 1`;

// The contract: touch never creates a record, never changes data or version, never moves expiry back.
const TOUCH_SCRIPT = `
local e = redis.call('HGET', KEYS[1], 'e')
if not e or tonumber(e) <= tonumber(ARGV[2]) or tonumber(e) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'e', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1`;

// Adds (or refreshes) one entry of an owner's index: keepUntil never decreases, indexedAt is now.
// Entries past their keepUntil are dropped (the manager never lets a record outlive it) a slice at
// a time: each call looks at about ARGV[4] entries (HSCAN from the cursor kept in the index's field
// ""), not at the whole index, so a sign-in costs the same for a user of 10,000
// sessions as for a user of one, and never holds Redis for long. The sweep covers the index every
// (size / ARGV[4]) sign-ins, so stale entries stay a small share of it. The index key lives until
// its latest keepUntil (its expiry already covers every earlier entry's), never less than it had.
const INDEX_SCRIPT = `
local now = tonumber(ARGV[3])
local keep = tonumber(ARGV[1])
local old = redis.call('HGET', KEYS[1], ARGV[2])
if old then keep = math.max(keep, tonumber(string.match(old, '^%d+'))) end
redis.call('HSET', KEYS[1], ARGV[2], string.format('%.0f:%s', keep, ARGV[3]))
local last = keep
local scanned = redis.call('HSCAN', KEYS[1], redis.call('HGET', KEYS[1], '') or '0', 'COUNT', ARGV[4])
local entries = scanned[2]
for i = 1, #entries, 2 do
  if entries[i] ~= '' then
    local until_ = tonumber(string.match(entries[i + 1], '^%d+'))
    if until_ <= now then redis.call('HDEL', KEYS[1], entries[i]) elseif until_ > last then last = until_ end
  end
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then last = math.max(last, now + ttl) end
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', last))
if scanned[1] == '0' then redis.call('HDEL', KEYS[1], '') else redis.call('HSET', KEYS[1], '', scanned[1]) end
return 1`;

/** Index entries one sign-in looks at for stale ones (HSCAN's COUNT; a small index is read whole). */
const INDEX_SWEEP_COUNT = 20;
/** The index field that holds the sweep's cursor: no session key is empty. */
const SWEEP_CURSOR_FIELD = "";

// Removes the given entries unless they were re-indexed after ARGV[1] (the listing's start).
const PRUNE_SCRIPT = `
for i = 2, #ARGV do
  local entry = redis.call('HGET', KEYS[1], ARGV[i])
  if entry and tonumber(string.match(entry, ':(%d+)$')) <= tonumber(ARGV[1]) then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 1`;

/** How long a "no replicas" answer holds before the masters are asked again. */
const REPLICAS_RECHECK_MS = 10_000;

interface Script {
  text: string;
  sha: string;
}

const script = (text: string): Script => ({ text, sha: createHash("sha1").update(text).digest("hex") });
const SCRIPTS = { set: script(SET_SCRIPT), touch: script(TOUCH_SCRIPT), index: script(INDEX_SCRIPT), prune: script(PRUNE_SCRIPT) };

export class RedisStore implements SessionStore {
  readonly #driver: Driver;
  readonly #prefix: string;
  readonly #ownsClient: boolean;
  readonly #scanCount: number;
  /** ["WAIT", replicas, ms], or undefined when writes do not wait for replicas. */
  readonly #wait: string[] | undefined;
  /** What a write that ends a session waits for, on a topology with replicas. */
  readonly #finalWait: string[];
  /** Whether a master has replicas: true once seen (sticky), a "no" asked again after REPLICAS_RECHECK_MS. */
  #replicas: { has: Promise<boolean>; askedAt: number } | undefined;

  constructor(options: RedisStoreOptions) {
    if (options === null || typeof options !== "object") throw new TypeError("RedisStore needs an options object: { client }");
    const { prefix = "sess:", ownsClient = false, scanCount = 1000, waitReplicas = 0, waitTimeout = "100ms" } = options;
    if (typeof prefix !== "string") throw new TypeError(`option "prefix" must be a string; got ${typeof prefix}`);
    if (typeof ownsClient !== "boolean") throw new TypeError('option "ownsClient" must be true or false');
    if (!Number.isInteger(scanCount) || scanCount < 1) throw new TypeError(`option "scanCount" must be a positive whole number; got ${String(scanCount)}`);
    if (!Number.isInteger(waitReplicas) || waitReplicas < 0) throw new TypeError(`option "waitReplicas" must be a whole number >= 0; got ${String(waitReplicas)}`);
    const waitMs = toMilliseconds(waitTimeout, "waitTimeout");
    // WAIT's timeout 0 means "forever": a lost replica would hang every commit (and every logout).
    if (waitMs === 0) throw new TypeError('option "waitTimeout" must be above 0 (WAIT 0 blocks forever)');
    this.#driver = driverFor(options.client);
    this.#prefix = prefix;
    this.#ownsClient = ownsClient;
    this.#scanCount = scanCount;
    this.#wait = waitReplicas > 0 ? ["WAIT", String(waitReplicas), String(waitMs)] : undefined;
    this.#finalWait = this.#wait ?? ["WAIT", "1", String(waitMs)];
  }

  async get(key: string, options?: StoreCallOptions): Promise<StoredSession | null> {
    const fullKey = this.#key(key);
    const reply = await this.#driver.send(fullKey, ["HMGET", fullKey, "d", "e", "v", "o"], options);
    return liveRecord(reply as (string | null)[], Date.now());
  }

  /**
   * node-redis withdraws a write still waiting in its offline queue when its signal aborts or its
   * command timeout fires (see commandOptions), so a write reported as failed cannot land after a
   * reconnect. ioredis cannot.
   */
  async set(key: string, write: SessionWrite, options?: StoreCallOptions): Promise<boolean> {
    const args = [write.expectedVersion, write.data, write.expiresAt, write.version, Date.now(), write.owner ?? ""].map(String);
    const wait = options?.final ? await this.#waitToEnd() : this.#wait;
    if (!wait) return (await this.#script(SCRIPTS.set, this.#key(key), args, options)) === 1;
    const [applied, acknowledged] = await this.#script(SCRIPTS.set, this.#key(key), args, options, wait);
    if (applied !== 1) return false;
    if (Number(acknowledged) < Number(wait[1])) throw notReplicated(Number(acknowledged), wait);
    return true;
  }

  /** A destroy always ends a session (a logout): on a master with replicas it waits for one, see waitReplicas. */
  async destroy(key: string, options?: StoreCallOptions): Promise<void> {
    const fullKey = this.#key(key);
    const del = ["DEL", fullKey];
    const wait = await this.#waitToEnd();
    if (!wait) {
      await this.#driver.send(fullKey, del, options);
      return;
    }
    const [, acknowledged] = await this.#driver.batch(fullKey, [del, wait], options);
    if (Number(acknowledged) < Number(wait[1])) throw notReplicated(Number(acknowledged), wait);
  }

  async touch(key: string, expiresAt: number, options?: StoreCallOptions): Promise<void> {
    await this.#script(SCRIPTS.touch, this.#key(key), [String(expiresAt), String(Date.now())], options);
  }

  async indexOwner(owner: string, key: string, expiresAt: number, options?: StoreCallOptions): Promise<void> {
    await this.#script(SCRIPTS.index, this.#indexKey(owner), [String(expiresAt), key, String(Date.now()), String(INDEX_SWEEP_COUNT)], options);
  }

  /** One HDEL on the owner's index (its own slot in a Cluster); no WAIT: a lost one is pruned when listed. */
  async unindexOwner(owner: string, key: string, options?: StoreCallOptions): Promise<void> {
    const indexKey = this.#indexKey(owner);
    await this.#driver.send(indexKey, ["HDEL", indexKey, key], options);
  }

  /**
   * One HGETALL of the owner's index, then one HMGET per entry, sent together (in a Cluster each
   * goes to the master of its own slot). Entries whose record is not that owner's live record are
   * left out. They are removed from the index (one more call, only then) when the record belongs to
   * someone else, when the entry's keepUntil has passed, or when its record is missing or expired
   * and the entry was indexed more than PENDING_GRACE_MS ago; a younger one may be a sign-in that
   * has not written its record yet. Redis has no gc: this listing is what removes the entries a
   * process killed between the index write and the record left behind.
   */
  async listByOwner(owner: string, options?: StoreCallOptions): Promise<OwnedSession[]> {
    const indexKey = this.#indexKey(owner);
    const reply = (await this.#driver.send(indexKey, ["HGETALL", indexKey], options)) as string[] | Record<string, string>;
    const entries = (Array.isArray(reply) ? pairs(reply) : Object.entries(reply)).filter(([key]) => key !== SWEEP_CURSOR_FIELD);
    const now = Date.now();
    const pendingSince = now - PENDING_GRACE_MS;
    const records = await Promise.all(
      entries.map(async ([key]) => liveRecord((await this.#driver.send(this.#key(key), ["HMGET", this.#key(key), "d", "e", "v", "o"], options)) as (string | null)[], now)),
    );
    const listed: OwnedSession[] = [];
    const stale: string[] = [];
    records.forEach((record, i) => {
      const [key, entry] = entries[i]!;
      if (record?.owner === owner) listed.push({ key, record });
      else if (record || Number.parseInt(entry, 10) <= now || indexedAt(entry) <= pendingSince) stale.push(key);
    });
    if (stale.length > 0) await this.#script(SCRIPTS.prune, indexKey, [String(now), ...stale], options);
    return listed;
  }

  /**
   * SCANs every master for the prefix: O(all keys in the database), one round trip per
   * `scanCount` keys per master. SCAN may return a key twice while Redis resizes its table,
   * so keys are de-duplicated in memory to keep the figure exact; owner index keys are left out.
   * Meant for dashboards, not per request.
   */
  async count(): Promise<number> {
    const pattern = `${escapeGlob(this.#prefix)}*`;
    let total = 0;
    const indexPrefix = `${this.#prefix}owner:{`;
    const isSession = (key: string) => !(key.startsWith(indexPrefix) && key.endsWith("}"));
    for (const send of await this.#driver.masters()) total += await scanCount(send, pattern, this.#scanCount, isSession);
    return total;
  }

  async close(): Promise<void> {
    if (this.#ownsClient) await this.#driver.quit();
  }

  #key(key: string): string {
    return this.#prefix + key;
  }

  /** The WAIT a write that ends a session sends; none when no master has a replica (a standalone server pays nothing). */
  async #waitToEnd(): Promise<string[] | undefined> {
    if (this.#wait) return this.#wait;
    return (await this.#hasReplicas()) ? this.#finalWait : undefined;
  }

  /**
   * INFO replication on every master, once: a replica seen makes it true for good (a replica
   * that lags or reconnects shows as 0 connected for a while, exactly when a WAIT matters). A
   * "no" is asked again after REPLICAS_RECHECK_MS, so replicas added later are found; a failed
   * question is asked again at the next call.
   */
  #hasReplicas(): Promise<boolean> {
    const known = this.#replicas;
    if (known && (known.askedAt === Infinity || performance.now() - known.askedAt < REPLICAS_RECHECK_MS)) return known.has;
    const asking = { has: this.#askReplicas(), askedAt: performance.now() };
    this.#replicas = asking;
    asking.has.then(
      (has) => has && (asking.askedAt = Infinity),
      () => this.#replicas === asking && (this.#replicas = undefined),
    );
    return known?.has ?? asking.has;
  }

  async #askReplicas(): Promise<boolean> {
    const masters = await this.#driver.masters();
    // A user whose ACL denies INFO (or a server without it) cannot learn of replicas: none, as before.
    const info = (send: Command) => send(["INFO", "replication"]).catch((error: unknown) => (/^(NOPERM|ERR unknown command)/.test(String((error as Error)?.message)) ? "" : Promise.reject(error)));
    const replies = await Promise.all(masters.map(info));
    return replies.some((reply) => Number(/connected_slaves:(\d+)/.exec(String(reply))?.[1] ?? 0) > 0);
  }

  #indexKey(owner: string): string {
    return `${this.#prefix}owner:{${owner}}`;
  }

  /**
   * EVALSHA, falling back to EVAL once when the server has not seen the script (restart, SCRIPT FLUSH, new node).
   * With `then` (WAIT, which scripts may not call), both go in one round trip and both replies come back.
   */
  async #script(script: Script, fullKey: string, args: string[], call?: StoreCallOptions): Promise<unknown>;
  async #script(script: Script, fullKey: string, args: string[], call: StoreCallOptions | undefined, then: string[]): Promise<unknown[]>;
  async #script(script: Script, fullKey: string, args: string[], call?: StoreCallOptions, then?: string[]): Promise<unknown> {
    const send = (command: string[]) => (then ? this.#driver.batch(fullKey, [command, then], call) : this.#driver.send(fullKey, command, call));
    try {
      return await send(["EVALSHA", script.sha, "1", fullKey, ...args]);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith("NOSCRIPT")) throw error;
      call?.signal?.throwIfAborted();
      return send(["EVAL", script.text, "1", fullKey, ...args]);
    }
  }
}

/** [field, value] pairs of a flat HGETALL reply (ioredis's `call` returns it flat). */
function pairs(flat: string[]): [string, string][] {
  const result: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) result.push([flat[i]!, flat[i + 1]!]);
  return result;
}

function liveRecord([data, expiresAt, version, owner]: (string | null | undefined)[], now: number): StoredSession | null {
  if (typeof data !== "string" || Number(expiresAt) <= now) return null;
  const record: StoredSession = { data, expiresAt: Number(expiresAt), version: Number(version) };
  if (typeof owner === "string") record.owner = owner;
  return record;
}

/** The write is on the master but not on enough replicas: a failover now could lose it, or not. */
function notReplicated(acknowledged: number, [, replicas, ms]: string[]): SessionStoreError {
  return new SessionStoreError(
    `Redis WAIT: ${acknowledged} of ${replicas} replicas acknowledged the write within ${ms} ms; it may or may not survive a failover`,
    { outcome: "unknown" },
  );
}

async function scanCount(send: Command, pattern: string, batch: number, isSession: (key: string) => boolean): Promise<number> {
  const seen = new Set<string>();
  let cursor = "0";
  do {
    const [next, keys] = (await send(["SCAN", cursor, "MATCH", pattern, "COUNT", String(batch)])) as [string, string[]];
    for (const key of keys) if (isSession(key)) seen.add(key);
    cursor = String(next);
  } while (cursor !== "0");
  return seen.size;
}

/** A prefix is data, not a pattern: `*`, `?`, `[` and `\` in it must match only themselves. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

/** When an index entry "<keepUntil>:<indexedAt>" was written. */
function indexedAt(entry: string): number {
  return Number(entry.slice(entry.indexOf(":") + 1));
}

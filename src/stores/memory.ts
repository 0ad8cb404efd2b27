import type { OwnedSession, SessionStore, SessionWrite, StoredSession } from "../core/store.js";
import { yieldToEventLoop } from "./event-loop.js";

export interface MemoryStoreOptions {
  /**
   * Default unlimited. When set, the least recently used session is evicted to stay within
   * this many, so memory is bounded whatever clients do.
   */
  maxSessions?: number;
  /** Default Date.now: the clock used to decide expiry (injectable for tests). */
  now?: () => number;
}

/**
 * Sessions in this process's memory: for development, tests and single-process apps.
 * A Map keeps insertion order, so re-inserting on access makes its first entry the least
 * recently used: LRU eviction is O(1). Expired entries are freed when read and by gc(), in slices.
 * Records are immutable strings, so a caller's later mutation never changes what is stored.
 * Owners are indexed in a second map (owner → keys) kept in step by every write, destroy,
 * expiry and eviction, so listByOwner costs O(that owner's sessions) and needs no indexOwner().
 */
/** Entries gc() looks at before it lets other work run (what a slice costs: bench/README.md, "Expired backlog"). */
const GC_SLICE = 10_000;

export class MemoryStore implements SessionStore {
  readonly #sessions = new Map<string, StoredSession>();
  readonly #owners = new Map<string, Set<string>>();
  readonly #maxSessions: number;
  readonly #now: () => number;

  constructor(options: MemoryStoreOptions = {}) {
    const max = options.maxSessions ?? Infinity;
    if (max !== Infinity && (!Number.isInteger(max) || max < 1)) {
      throw new TypeError(`option "maxSessions" must be a positive whole number; got ${String(options.maxSessions)}`);
    }
    this.#maxSessions = max;
    this.#now = options.now ?? Date.now;
  }

  get(key: string): StoredSession | null {
    const record = this.#live(key);
    if (record && this.#maxSessions !== Infinity) {
      this.#sessions.delete(key);
      this.#sessions.set(key, record);
    }
    return record;
  }

  set(key: string, write: SessionWrite): boolean {
    const current = this.#live(key);
    if ((current?.version ?? 0) !== write.expectedVersion) return false;
    const expiresAt = Math.max(current?.expiresAt ?? 0, write.expiresAt);
    const record: StoredSession = { data: flatten(write.data), expiresAt, version: write.version };
    if (write.owner !== undefined) record.owner = write.owner;
    if (current?.owner !== record.owner) {
      if (current) this.#unindex(key, current.owner);
      if (record.owner !== undefined) this.#ownerKeys(record.owner).add(key);
    }
    if (current && this.#maxSessions !== Infinity) this.#sessions.delete(key);
    this.#sessions.set(key, record);
    if (this.#sessions.size > this.#maxSessions) this.#evictOldest();
    return true;
  }

  destroy(key: string): void {
    this.#remove(key);
  }

  touch(key: string, expiresAt: number): void {
    const record = this.#live(key);
    if (record && expiresAt > record.expiresAt) this.#sessions.set(key, { ...record, expiresAt });
  }

  listByOwner(owner: string): OwnedSession[] {
    const listed: OwnedSession[] = [];
    for (const key of this.#owners.get(owner) ?? []) {
      const record = this.#live(key);
      if (record) listed.push({ key, record });
    }
    return listed;
  }

  count(): number {
    const now = this.#now();
    let live = 0;
    for (const record of this.#sessions.values()) if (record.expiresAt > now) live++;
    return live;
  }

  /**
   * Removes expired sessions, looking at GC_SLICE entries per turn of the event loop: one pass
   * over a million entries holds the process for most of a second (bench/README.md, "Expired
   * backlog"), a slice for milliseconds. A Map iterator survives deletions and insertions between
   * slices; entries added meanwhile are visited too, and are live.
   */
  async gc(): Promise<number> {
    const now = this.#now();
    let removed = 0;
    let seen = 0;
    for (const [key, record] of this.#sessions) {
      if (record.expiresAt <= now) {
        this.#remove(key);
        removed++;
      }
      if (++seen % GC_SLICE === 0) await yieldToEventLoop();
    }
    return removed;
  }

  close(): void {
    this.#sessions.clear();
    this.#owners.clear();
  }

  #live(key: string): StoredSession | null {
    const record = this.#sessions.get(key);
    if (!record) return null;
    if (record.expiresAt > this.#now()) return record;
    this.#remove(key);
    return null;
  }

  /** Deletes a record and its owner index entry. */
  #remove(key: string): void {
    const owner = this.#sessions.get(key)?.owner;
    this.#sessions.delete(key);
    this.#unindex(key, owner);
  }

  /** Drops `key` from its owner's set; the set goes when it empties, so the map never grows stale. */
  #unindex(key: string, owner: string | undefined): void {
    if (owner === undefined) return;
    const keys = this.#owners.get(owner);
    keys?.delete(key);
    if (keys?.size === 0) this.#owners.delete(owner);
  }

  #ownerKeys(owner: string): Set<string> {
    let keys = this.#owners.get(owner);
    if (!keys) this.#owners.set(owner, (keys = new Set()));
    return keys;
  }

  #evictOldest(): void {
    const oldest = this.#sessions.keys().next();
    if (!oldest.done) this.#remove(oldest.value);
  }
}

let _readSink = 0; // written, never read: keeps the character read below alive

/**
 * V8 keeps a string built by concatenation as a tree ("rope") that pins every piece, about twice
 * the text for an encoded session. Reading a character flattens it in place; the result is used
 * so that an optimizing compiler cannot drop the read. Kept while it pays (bench/README.md,
 * "Speed-ups and what they pay").
 */
function flatten(text: string): string {
  if (text.length > 0) _readSink ^= text.charCodeAt(text.length - 1);
  return text;
}

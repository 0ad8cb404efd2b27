import type { SessionStore, SessionWrite, StoredSession } from "../core/store.js";

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
 * recently used: LRU eviction is O(1). Expired entries are freed when read and by gc().
 * Records are immutable strings, so a caller's later mutation never changes what is stored.
 */
export class MemoryStore implements SessionStore {
  readonly #sessions = new Map<string, StoredSession>();
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
    const record: StoredSession = { data: flatten(write.data), expiresAt: write.expiresAt, version: write.version };
    if (current && this.#maxSessions !== Infinity) this.#sessions.delete(key);
    this.#sessions.set(key, record);
    if (this.#sessions.size > this.#maxSessions) this.#evictOldest();
    return true;
  }

  destroy(key: string): void {
    this.#sessions.delete(key);
  }

  touch(key: string, expiresAt: number): void {
    const record = this.#live(key);
    if (record) this.#sessions.set(key, { ...record, expiresAt });
  }

  count(): number {
    const now = this.#now();
    let live = 0;
    for (const record of this.#sessions.values()) if (record.expiresAt > now) live++;
    return live;
  }

  gc(): number {
    const now = this.#now();
    let removed = 0;
    for (const [key, record] of this.#sessions) {
      if (record.expiresAt <= now) {
        this.#sessions.delete(key);
        removed++;
      }
    }
    return removed;
  }

  close(): void {
    this.#sessions.clear();
  }

  #live(key: string): StoredSession | null {
    const record = this.#sessions.get(key);
    if (!record) return null;
    if (record.expiresAt > this.#now()) return record;
    this.#sessions.delete(key);
    return null;
  }

  #evictOldest(): void {
    const oldest = this.#sessions.keys().next();
    if (!oldest.done) this.#sessions.delete(oldest.value);
  }
}

let _readSink = 0; // written, never read: keeps the character read below alive

/**
 * V8 keeps a string built by concatenation as a tree ("rope") that pins every piece, about twice
 * the text for an encoded session. Reading a character flattens it in place; the result is used
 * so that an optimizing compiler cannot drop the read.
 */
function flatten(text: string): string {
  if (text.length > 0) _readSink ^= text.charCodeAt(text.length - 1);
  return text;
}

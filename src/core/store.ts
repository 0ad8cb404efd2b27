/** A value or a promise of it: in-process stores may answer synchronously and skip a tick. */
export type Awaitable<T> = T | Promise<T>;

/** What a store keeps for one session. */
export interface StoredSession {
  /** Opaque text made by the manager (codec output plus metadata). Store it byte for byte. */
  data: string;
  /** Epoch milliseconds after which this record must never be returned again. */
  expiresAt: number;
  /** Compare-and-set version: the `version` of the write that produced this record. */
  version: number;
  /**
   * The user this session is signed in as, as an opaque owner key (the SHA-256 of the user id,
   * 43 characters of [A-Za-z0-9_-]); absent for an anonymous session. Store it with the record
   * and return it from `get` and `listByOwner`.
   */
  owner?: string;
}

/** One live record of an owner, as `listByOwner` returns it. */
export interface OwnedSession {
  key: string;
  record: StoredSession;
}

/** One write, as the manager asks for it. */
export interface SessionWrite extends StoredSession {
  /**
   * The version the record must have now for the write to apply; 0 means "no live record".
   * `version` is always `expectedVersion + 1`.
   */
  expectedVersion: number;
}

/** Passed to every store call; stores that can cancel a request may honour the signal. */
export interface StoreCallOptions {
  /** Aborts when the manager gives up on the call (its `storeTimeout`). */
  signal?: AbortSignal;
  /**
   * Milliseconds after which the manager gives up on the call (its `storeTimeout`), when it has
   * one. A driver with per-command timeouts may take it instead of listening to `signal`, which
   * costs more: the signal then aborts no earlier than this.
   */
  timeout?: number;
  /**
   * This call ends a session (a logout, a revocation, the retirement of a rotated id, a user's
   * fence): a store replicating asynchronously should acknowledge it only once a replica has it,
   * since losing it in a failover would bring the ended session back. The manager sets it on the
   * `set` calls that end a session; `destroy` always ends one and needs no flag.
   */
  final?: boolean;
}

/**
 * The server-side store contract. A store is a keyed map of records with expiry and
 * compare-and-set writes; it never sees cookies, tokens or options of the manager.
 *
 * - `key` is an opaque string of at most 64 characters from [A-Za-z0-9_-] (by default the
 *   SHA-256 of the client's token). Use it as plain data, never as a path or SQL text.
 * - `get` returns null for a key that is missing or whose `expiresAt` has passed, even if
 *   the record has not been garbage-collected yet. Not found is never an error: throw only
 *   for system failures (connection lost, disk full); the manager wraps them in SessionStoreError.
 * - `set` applies the write only if the live record's version equals `expectedVersion`
 *   (a missing or expired record counts as version 0), atomically, and returns whether it
 *   applied. On false the manager re-reads, merges its changed keys on top, and retries:
 *   that is how two overlapping requests changing different keys both persist. A transient
 *   conflict the database reports itself (a deadlock, a lock-wait timeout, a serialization
 *   failure) is also "not applied": return false, never throw it.
 * - Expiry never moves backwards: when `set` replaces a live record, the stored expiry becomes
 *   max(the live record's `expiresAt`, `write.expiresAt`), in the same atomic step.
 * - `destroy` removes the record; destroying a missing key is not an error. It always ends a
 *   session: like a `set` with `options.final`, a store replicating asynchronously should
 *   acknowledge it only once a replica has it.
 * - `touch` (optional) moves the expiry of a live record later, never earlier
 *   (max(stored, given)), without rewriting data and without changing its version; it must not
 *   create a record. Without it the manager rewrites the record.
 * - `count` (optional) returns the exact number of live (unexpired) records.
 * - `gc` (optional) deletes expired records and returns how many it deleted. Stores with
 *   native expiry (Redis) leave it out; the manager then never schedules it. It also removes
 *   index entries (see `indexOwner`) whose record is gone.
 * - `close` (optional) releases what the store itself opened; never a client the user passed in.
 *
 * Users (all optional; without `listByOwner` the per-user calls of the manager throw
 * SessionUnsupportedError):
 * - `set` stores `write.owner` with the record (or clears it when absent) and `get` returns it.
 * - `indexOwner(owner, key, expiresAt)` adds `key` to the owner's index, idempotently. The
 *   manager calls it before the first `set` that writes the record with that owner, so the index
 *   never misses a live record; an entry whose record is gone is harmless. A store whose `set`
 *   maintains the index atomically itself (a SQL column, one in-process map) leaves it out.
 *   `expiresAt` is a lower bound for how long the entry must be kept.
 * - `listByOwner(owner)` returns every live record whose stored `owner` equals `owner`, with its
 *   key, in any order, at a cost in the number of that owner's entries (never a scan of all
 *   sessions). It may drop entries whose record is expired or owned by someone else. An entry
 *   whose record is missing must be kept for `PENDING_GRACE_MS` (one minute) after it was last
 *   indexed: it may be a sign-in that has written its index entry and not yet its record. Past
 *   that, the record will never come (its writer died between the two calls): drop the entry
 *   when listing it and in `gc`, so one `gc()` leaves no such entry older than the grace. A
 *   store that cannot tell when an entry was written keeps it until its `expiresAt` instead.
 * - `unindexOwner(owner, key)` removes `key` from the owner's index, idempotently. The manager
 *   calls it after deleting a signed-in record (logout, the old id of a rotation, a revocation, an
 *   eviction), so the index stays the size of the user's live sessions instead of growing with
 *   every sign-in until the entries' `expiresAt`. Optional: an index needs it only if it is kept
 *   apart from the records (a store with `indexOwner`).
 */
export interface SessionStore {
  get(key: string, options?: StoreCallOptions): Awaitable<StoredSession | null>;
  set(key: string, write: SessionWrite, options?: StoreCallOptions): Awaitable<boolean>;
  destroy(key: string, options?: StoreCallOptions): Awaitable<void>;
  touch?(key: string, expiresAt: number, options?: StoreCallOptions): Awaitable<void>;
  count?(options?: StoreCallOptions): Awaitable<number>;
  gc?(options?: StoreCallOptions): Awaitable<number>;
  close?(): Awaitable<void>;
  indexOwner?(owner: string, key: string, expiresAt: number, options?: StoreCallOptions): Awaitable<void>;
  listByOwner?(owner: string, options?: StoreCallOptions): Awaitable<OwnedSession[]>;
  unindexOwner?(owner: string, key: string, options?: StoreCallOptions): Awaitable<void>;
}

/** What a client-side store's `open` returns. */
export interface OpenedCookie {
  payload: string;
  expiresAt: number;
  /** Sealed with an older secret: the manager re-seals it with the newest at the next commit. */
  stale: boolean;
}

/**
 * A store that keeps the whole session in the cookie (see sessionkit/cookie). The manager
 * detects it by `clientSide: true`: the cookie value is `seal(payload)`, there are no store
 * round trips, and `count`/`gc` are unsupported.
 */
export interface ClientSideStore {
  readonly clientSide: true;
  /**
   * Encrypts and authenticates the payload together with its expiry and `name`, the cookie (or
   * header) it travels in, so a value sealed for one cookie never opens as another.
   */
  seal(payload: string, expiresAt: number, name: string): string;
  /** The payload, or null for anything tampered, truncated, foreign, sealed for another name or expired at `now`. */
  open(value: string, now: number, name: string): OpenedCookie | null;
  close?(): Awaitable<void>;
}

export type AnyStore = SessionStore | ClientSideStore;

/**
 * How long an owner index entry whose record is missing must be kept after it was written:
 * the manager writes the record right after indexing it, one store call later (storeTimeout,
 * at most 30 s, bounds that call). Also the least time a sign-in's or rotation's new record
 * stays pending before its last step confirms it.
 */
export const PENDING_GRACE_MS = 60_000;

export function isClientSideStore(store: AnyStore): store is ClientSideStore {
  return (store as ClientSideStore).clientSide === true;
}

/** Validates the `store` option once, at construction. */
export function checkStore(store: AnyStore): void {
  if (isClientSideStore(store)) {
    if (typeof store.seal !== "function" || typeof store.open !== "function") throw new TypeError('option "store": a client-side store needs seal() and open()');
    return;
  }
  for (const method of ["get", "set", "destroy"] as const) {
    if (typeof store?.[method] !== "function") throw new TypeError(`option "store" must implement SessionStore: ${method}() is missing`);
  }
}

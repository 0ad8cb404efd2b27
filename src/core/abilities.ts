import type { Awaitable, OwnedSession, SessionStore, StoreCallOptions } from "./store.js";

/** A user index: the store's listByOwner, with indexOwner/unindexOwner when it keeps the index apart. */
export interface UserIndex {
  list(owner: string, options: StoreCallOptions): Awaitable<OwnedSession[]>;
  /** Absent when the store's set() keeps the index itself, atomically. */
  add: ((owner: string, key: string, expiresAt: number, options: StoreCallOptions) => Awaitable<void>) | undefined;
  remove: ((owner: string, key: string, options: StoreCallOptions) => Awaitable<void>) | undefined;
}

/**
 * A server store as the core uses it: the contract's base calls on `store`, and each optional
 * ability of the contract (src/core/store.ts) detected once, here, at construction. Nowhere else
 * does the core ask whether a store can do something.
 */
export class ServerStore {
  readonly store: SessionStore;
  /** Moves a live record's expiry later without rewriting it; without it a touch rewrites the record. */
  readonly touch: ((key: string, expiresAt: number, options: StoreCallOptions) => Awaitable<void>) | undefined;
  /** Absent: listSessions, revokeSession and revokeUser throw SessionUnsupportedError. */
  readonly users: UserIndex | undefined;
  readonly count: ((options: StoreCallOptions) => Awaitable<number>) | undefined;
  /** Absent for stores with native expiry: the manager then never schedules gc. */
  readonly gc: ((options: StoreCallOptions) => Awaitable<number>) | undefined;

  constructor(store: SessionStore) {
    this.store = store;
    this.touch = store.touch && ((key, expiresAt, o) => store.touch!(key, expiresAt, o));
    this.count = store.count && ((o) => store.count!(o));
    this.gc = store.gc && ((o) => store.gc!(o));
    this.users = store.listByOwner
      ? {
          list: (owner, o) => store.listByOwner!(owner, o),
          add: store.indexOwner && ((owner, key, expiresAt, o) => store.indexOwner!(owner, key, expiresAt, o)),
          remove: store.unindexOwner && ((owner, key, o) => store.unindexOwner!(owner, key, o)),
        }
      : undefined;
  }
}

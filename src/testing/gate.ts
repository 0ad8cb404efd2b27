import type { OwnedSession, SessionStore, SessionWrite, StoreCallOptions, StoredSession } from "../core/store.js";

type Operation = "get" | "set" | "destroy" | "touch" | "indexOwner" | "listByOwner" | "unindexOwner";

/** A held store call: `reached` resolves when the call arrives, `release()` lets it through. */
export interface Gate {
  readonly reached: Promise<void>;
  release(): void;
}

interface PendingGate {
  operation: Operation;
  matches: (key: string, write?: SessionWrite) => boolean;
  arrived: () => void;
  released: Promise<void>;
}

/**
 * Wraps a store so a test can hold one chosen call on a barrier, let other requests run to the
 * end, and then release it: the interleaving is the test's, not the scheduler's.
 *
 *   const gated = new GatedStore(store);
 *   const gate = gated.hold("set", (key, write) => write?.data === "-");
 *   const rotating = session.regenerate();
 *   await gate.reached;      // the call is parked here
 *   ...                      // another request commits meanwhile
 *   gate.release();
 *   await rotating;
 *
 * Optional methods exist on the wrapper exactly when the wrapped store has them.
 */
export class GatedStore implements SessionStore {
  readonly inner: SessionStore;
  readonly #gates: PendingGate[] = [];
  /** Every call in order, as "operation key", for assertions about call order. */
  readonly calls: string[] = [];
  touch?: SessionStore["touch"];
  count?: SessionStore["count"];
  gc?: SessionStore["gc"];
  close?: SessionStore["close"];
  indexOwner?: SessionStore["indexOwner"];
  listByOwner?: SessionStore["listByOwner"];
  unindexOwner?: SessionStore["unindexOwner"];

  constructor(inner: SessionStore) {
    this.inner = inner;
    if (inner.touch) this.touch = async (key, expiresAt, o) => (await this.#pass("touch", key), inner.touch!(key, expiresAt, o));
    if (inner.count) this.count = (o) => inner.count!(o);
    if (inner.gc) this.gc = (o) => inner.gc!(o);
    if (inner.close) this.close = () => inner.close!();
    if (inner.indexOwner) {
      this.indexOwner = async (owner, key, expiresAt, o) => (await this.#pass("indexOwner", key), inner.indexOwner!(owner, key, expiresAt, o));
    }
    if (inner.listByOwner) {
      this.listByOwner = async (owner, o): Promise<OwnedSession[]> => (await this.#pass("listByOwner", owner), inner.listByOwner!(owner, o));
    }
    if (inner.unindexOwner) {
      this.unindexOwner = async (owner, key, o) => (await this.#pass("unindexOwner", key), inner.unindexOwner!(owner, key, o));
    }
  }

  /** Holds the next call of `operation` whose key (and write) `matches`; one call per gate. */
  hold(operation: Operation, matches: (key: string, write?: SessionWrite) => boolean = () => true): Gate {
    let arrived!: () => void;
    let release!: () => void;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.#gates.push({ operation, matches, arrived, released });
    return { reached, release };
  }

  async get(key: string, options?: StoreCallOptions): Promise<StoredSession | null> {
    await this.#pass("get", key);
    return this.inner.get(key, options);
  }

  async set(key: string, write: SessionWrite, options?: StoreCallOptions): Promise<boolean> {
    await this.#pass("set", key, write);
    return this.inner.set(key, write, options);
  }

  async destroy(key: string, options?: StoreCallOptions): Promise<void> {
    await this.#pass("destroy", key);
    return this.inner.destroy(key, options);
  }

  async #pass(operation: Operation, key: string, write?: SessionWrite): Promise<void> {
    this.calls.push(`${operation} ${key}`);
    const index = this.#gates.findIndex((gate) => gate.operation === operation && gate.matches(key, write));
    if (index === -1) return;
    const [gate] = this.#gates.splice(index, 1);
    gate!.arrived();
    await gate!.released;
  }
}

/**
 * Sessions in Cloudflare Durable Objects: strongly consistent at the edge, which Workers KV
 * (eventually consistent, one write per second per key) is not, so compare-and-set, a final
 * logout and per-user revocation hold as on the server stores.
 *
 * Data model: one object per session, named `${prefix}s:${key}`, holding one record
 * { data, expiresAt, version, owner? } under the storage key "r"; one object per user, named
 * `${prefix}u:${owner}`, holding that user's index entries `k:${key}` = the entry's keep-until.
 * A session object answers one request at a time for the storage calls of a request (the
 * runtime's input gate: no other event is delivered while a storage call is pending), so its
 * read-compare-write is atomic without a lock; sessions spread over as many objects as there are.
 * Expiry is native: an alarm at `expiresAt` deletes the record, and every read checks it too, so a
 * record past its expiry never loads even before the alarm runs. There is no count() or gc():
 * counting would need a scan of every object, and expired records delete themselves.
 *
 * The objects speak JSON over the stub's fetch() (no `cloudflare:workers` import and no RPC), so
 * this file imports nothing and runs on any compatibility date.
 */
import type { OwnedSession, SessionStore, SessionWrite, StoredSession } from "../core/store.js";

/** The binding of the SessionObject class (wrangler.toml `[[durable_objects.bindings]]`): `env.SESSIONS`. */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: never): { fetch(url: string, init: { method: string; body: string }): Promise<Response> };
}

export interface DurableObjectStoreOptions {
  /** The Durable Object namespace bound to the `SessionObject` class exported below. Required. */
  namespace: DurableObjectNamespaceLike;
  /** Prefix of every object name, to keep several apps (or test runs) apart in one namespace. Default "". */
  prefix?: string;
}

export class DurableObjectStore implements SessionStore {
  readonly #namespace: DurableObjectNamespaceLike;
  readonly #prefix: string;

  constructor(options: DurableObjectStoreOptions) {
    const namespace = options?.namespace;
    if (!namespace || typeof namespace.idFromName !== "function" || typeof namespace.get !== "function") {
      throw new TypeError('DurableObjectStore: option "namespace" must be a Durable Object namespace binding (env.SESSIONS)');
    }
    if (options.prefix !== undefined && typeof options.prefix !== "string") throw new TypeError('DurableObjectStore: option "prefix" must be a string');
    this.#namespace = namespace;
    this.#prefix = options.prefix ?? "";
  }

  get(key: string): Promise<StoredSession | null> {
    return this.#call<StoredSession | null>(`s:${key}`, { op: "get" });
  }

  set(key: string, write: SessionWrite): Promise<boolean> {
    return this.#call<boolean>(`s:${key}`, { op: "set", write });
  }

  destroy(key: string): Promise<void> {
    return this.#call<void>(`s:${key}`, { op: "destroy" });
  }

  touch(key: string, expiresAt: number): Promise<void> {
    return this.#call<void>(`s:${key}`, { op: "touch", expiresAt });
  }

  indexOwner(owner: string, key: string, expiresAt: number): Promise<void> {
    return this.#call<void>(`u:${owner}`, { op: "index", key, expiresAt });
  }

  unindexOwner(owner: string, key: string): Promise<void> {
    return this.#call<void>(`u:${owner}`, { op: "unindex", key });
  }

  /** One request to the user's object, then one to each indexed session's object, side by side. */
  async listByOwner(owner: string): Promise<OwnedSession[]> {
    const keys = await this.#call<string[]>(`u:${owner}`, { op: "list" });
    const records = await Promise.all(keys.map((key) => this.get(key)));
    return keys.flatMap((key, i) => {
      const record = records[i];
      return record && record.owner === owner ? [{ key, record }] : [];
    });
  }

  async #call<R>(name: string, message: Message): Promise<R> {
    // A stub per call: cheap (no I/O), and never shared between two requests of the Worker.
    const stub = this.#namespace.get(this.#namespace.idFromName(this.#prefix + name) as never);
    const response = await stub.fetch("https://sessionkit.invalid/", { method: "POST", body: JSON.stringify(message) });
    if (!response.ok) throw new Error(`the session object answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as R;
  }
}

type Message =
  | { op: "get" | "destroy" | "list" }
  | { op: "set"; write: SessionWrite }
  | { op: "touch"; expiresAt: number }
  | { op: "index"; key: string; expiresAt: number }
  | { op: "unindex"; key: string };

/** The part of a Durable Object's `state.storage` this class uses. */
export interface DurableObjectStorageLike {
  get<T>(key: string): Promise<T | undefined>;
  put(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<boolean>;
  deleteAll(): Promise<void>;
  list<T>(options: { prefix: string }): Promise<Map<string, T>>;
  getAlarm(): Promise<number | null>;
  setAlarm(scheduledTime: number): Promise<void>;
  deleteAlarm(): Promise<void>;
}

const RECORD = "r";
const ENTRY = "k:";

/**
 * The Durable Object class: export it from your Worker and bind it (see docs/adapters.md,
 * "Cloudflare Workers"). One instance is either a session (its record) or a user (its index).
 */
export class SessionObject {
  readonly #storage: DurableObjectStorageLike;

  constructor(state: { storage: DurableObjectStorageLike }) {
    this.#storage = state.storage;
  }

  async fetch(request: Request): Promise<Response> {
    const message = (await request.json()) as Message;
    return Response.json((await this.#handle(message)) ?? null);
  }

  /** Runs when the earliest expiry is due: deletes what has expired, re-arms for what has not. */
  async alarm(): Promise<void> {
    const now = Date.now();
    const record = await this.#storage.get<StoredSession>(RECORD);
    if (record && record.expiresAt > now) return this.#storage.setAlarm(record.expiresAt);
    if (record) return this.#storage.deleteAll();
    const entries = await this.#storage.list<number>({ prefix: ENTRY });
    let next = Infinity;
    for (const [name, keepUntil] of entries) {
      if (keepUntil <= now) await this.#storage.delete(name);
      else next = Math.min(next, keepUntil);
    }
    if (next !== Infinity) await this.#storage.setAlarm(next);
  }

  #handle(message: Message): Promise<unknown> {
    switch (message.op) {
      case "get":
        return this.#live();
      case "set":
        return this.#set(message.write);
      case "destroy":
        return this.#destroy();
      case "touch":
        return this.#touch(message.expiresAt);
      case "index":
        return this.#index(message.key, message.expiresAt);
      case "unindex":
        return this.#storage.delete(ENTRY + message.key);
      case "list":
        return this.#list();
    }
  }

  async #live(): Promise<StoredSession | null> {
    const record = await this.#storage.get<StoredSession>(RECORD);
    return record && record.expiresAt > Date.now() ? record : null;
  }

  async #set(write: SessionWrite): Promise<boolean> {
    const current = await this.#live();
    if ((current?.version ?? 0) !== write.expectedVersion) return false;
    // Expiry never moves back: the live record's expiry or the write's, whichever is later.
    const expiresAt = Math.max(current?.expiresAt ?? 0, write.expiresAt);
    const record: StoredSession = { data: write.data, expiresAt, version: write.version };
    if (write.owner !== undefined) record.owner = write.owner;
    await this.#storage.put(RECORD, record);
    if (expiresAt !== current?.expiresAt) await this.#storage.setAlarm(expiresAt);
    return true;
  }

  async #destroy(): Promise<void> {
    await this.#storage.deleteAll();
    await this.#storage.deleteAlarm();
  }

  async #touch(expiresAt: number): Promise<void> {
    const record = await this.#live();
    if (!record || expiresAt <= record.expiresAt) return;
    await this.#storage.put(RECORD, { ...record, expiresAt });
    await this.#storage.setAlarm(expiresAt);
  }

  /** Idempotent; an entry is kept at least until `expiresAt`, however often it is indexed. */
  async #index(key: string, expiresAt: number): Promise<void> {
    const keepUntil = Math.max((await this.#storage.get<number>(ENTRY + key)) ?? 0, expiresAt);
    await this.#storage.put(ENTRY + key, keepUntil);
    await this.#armEarliest(keepUntil);
  }

  /** The user's indexed keys whose entry has not expired; expired entries are dropped here. */
  async #list(): Promise<string[]> {
    const now = Date.now();
    const keys: string[] = [];
    for (const [name, keepUntil] of await this.#storage.list<number>({ prefix: ENTRY })) {
      if (keepUntil > now) keys.push(name.slice(ENTRY.length));
      else await this.#storage.delete(name);
    }
    return keys;
  }

  /** A user's alarm fires at its earliest entry expiry; alarm() re-arms for the next. */
  async #armEarliest(keepUntil: number): Promise<void> {
    const armed = await this.#storage.getAlarm();
    if (armed === null || keepUntil < armed) await this.#storage.setAlarm(keepUntil);
  }
}

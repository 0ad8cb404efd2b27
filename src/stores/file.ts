/**
 * Sessions as files in one directory, shared safely by every process on the machine
 * (Node cluster workers, several servers behind a proxy on one host). The parts, by job:
 * file/record.ts (the on-disk format), file/lock.ts (the cross-process lock and why it exists),
 * file/fs.ts (file system helpers).
 *
 * - A file name is never taken from the client: the key is checked against the store contract's
 *   alphabet, then hashed (SHA-256, hex) into `<dir>/<2 hex>/<64 hex>`. Hex, not base64url, because
 *   macOS and Windows file systems ignore case and would merge keys that differ only in case.
 *   (beego's file provider joined the client's id into the path: path traversal.)
 * - Writes go to a temp file in the same directory, then rename(2) over the target: POSIX makes the
 *   rename atomic, so a process killed at any instant leaves the old file or the new one, never a mix.
 * - Compare-and-set across processes: under the key's lock file (file/lock.ts). Reads take no
 *   lock: they see a whole old or a whole new file.
 * - count() and gc() scan the whole directory: fine for thousands of sessions; for more, or for
 *   several hosts, use Redis, PostgreSQL or MySQL (see docs/stores/file.md).
 * - The directory must be trusted: owned by this process's user and writable by no one else,
 *   checked at first use. Files are opened with O_NOFOLLOW | O_NONBLOCK and anything that is not
 *   a regular file is "not found", so a planted symlink or FIFO can neither forge nor hang a read.
 * - An owner's sessions are listed from `<dir>/owners/<hex owner>/<hex key>` (empty files written
 *   by indexOwner before the record, mtime = keepUntil), each checked against its record when listed.
 */
import * as fs from "node:fs";
import { constants } from "node:fs";
import { join, resolve } from "node:path";
import type { Duration } from "../core/duration.js";
import { toMilliseconds } from "../core/duration.js";
import type { OwnedSession, SessionStore, SessionWrite, StoreCallOptions, StoredSession } from "../core/store.js";
import { PENDING_GRACE_MS } from "../core/store.js";
import { OWNERS_DIR, SessionDirectory } from "./file/directory.js";
import { FILE_MODE, inBatches, listIfExists, mtimeOf, readRegularFile, rename, rmdir, stat, unlinkIfExists, utimes } from "./file/fs.js";
import { randomBytesPooled } from "../core/random.js";
import { FileLocks, LockTimeoutError } from "./file/lock.js";
import { KEY_PATTERN, liveRecord, readHeader } from "./file/record.js";

export interface FileStoreOptions {
  /** The directory (created with mode 0700 if missing). Give each application its own. */
  dir: string;
  /**
   * Default false: fsync each file and its directory before the write counts as done. Off, a
   * power cut (not a crash: the kernel still holds the data) may lose the last seconds of writes,
   * but never tears a file. On, every commit waits for the disk (milliseconds on SSD).
   */
  fsync?: boolean;
  /** Default "10s": a lock file this old is abandoned (its owner hung or died on another host). */
  staleLockAfter?: Duration;
  /**
   * Default "4s": how long a write waits for another process's lock before it fails. Below the
   * manager's default storeTimeout (5 s), so the caller sees this store's own, clearer error.
   */
  lockTimeout?: Duration;
  /** Default Date.now: the clock that decides expiry (injectable for tests). */
  now?: () => number;
}

const SESSION_FILE = /^[0-9a-f]{64}$/;
const HEX_NAME = /^(?:[0-9a-f]{2}){1,64}$/;
const ORPHAN_TEMP_AGE = 60_000;

export class FileStore implements SessionStore {
  readonly #files: SessionDirectory;
  readonly #locks: FileLocks;
  readonly #now: () => number;
  /** In-process queue per key, so this process's own writers wait in line instead of polling the lock file. */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(options: FileStoreOptions) {
    if (!options || typeof options.dir !== "string" || options.dir === "") {
      throw new TypeError('FileStore: option "dir" must be a directory path, e.g. new FileStore({ dir: "./.sessions" })');
    }
    this.#files = new SessionDirectory(resolve(options.dir), options.fsync ?? false);
    this.#locks = new FileLocks(this.#files, {
      staleLockAfter: positive(options.staleLockAfter ?? "10s", "staleLockAfter"),
      lockTimeout: positive(options.lockTimeout ?? "4s", "lockTimeout"),
    });
    this.#now = options.now ?? Date.now;
  }

  async get(key: string): Promise<StoredSession | null> {
    const path = this.#files.pathOf(key);
    await this.#files.checkTrust();
    const bytes = await readRegularFile(path);
    return bytes ? liveRecord(bytes, this.#now()) : null;
  }

  set(key: string, write: SessionWrite, options?: StoreCallOptions): Promise<boolean> {
    const path = this.#files.pathOf(key);
    // Checked without the lock when this write waited behind another write of this process: reads
    // see whole files, so a mismatch then is a valid moment to refuse, and a hopeless write never
    // takes the lock file (with 150 writers on one session most attempts are such retries).
    const refuseEarly = async () => (((await this.get(key))?.version ?? 0) !== write.expectedVersion ? false : undefined);
    return this.#locked(key, path, options?.signal, async () => {
      const current = await this.get(key);
      if ((current?.version ?? 0) !== write.expectedVersion) return false;
      // Never lower a live record's expiry: a slow request committing last must not shorten the session.
      const expiresAt = Math.max(current?.expiresAt ?? 0, write.expiresAt);
      await this.#files.writeAtomically(path, { data: write.data, expiresAt, version: write.version, owner: write.owner }, options?.signal);
      return true;
    }, refuseEarly);
  }

  destroy(key: string, options?: StoreCallOptions): Promise<void> {
    const path = this.#files.pathOf(key);
    return this.#locked(key, path, options?.signal, () => unlinkIfExists(path).then(() => undefined));
  }

  touch(key: string, expiresAt: number, options?: StoreCallOptions): Promise<void> {
    const path = this.#files.pathOf(key);
    return this.#locked(key, path, options?.signal, async () => {
      const current = await this.get(key);
      if (current && expiresAt > current.expiresAt) await this.#files.writeAtomically(path, { ...current, expiresAt }, options?.signal);
    });
  }

  /**
   * An empty file `owners/<hex owner>/<hex key>` whose mtime is the entry's keepUntil (never
   * lowered) and whose ctime is when it was written: while its record is missing it is kept for
   * PENDING_GRACE_MS from then (a sign-in in flight), at most until its keepUntil.
   */
  async indexOwner(owner: string, key: string, keepUntil: number): Promise<void> {
    const entry = this.#files.indexEntryOf(owner, key);
    await this.#files.checkTrust();
    // Written under a temporary name with its mtime already set, then renamed into place: an entry
    // that appeared with the current time as mtime would look past its keepUntil to a listing that
    // ran in between, which removes it (a sign-in's entry lost before its record is written).
    const temp = `${entry}.${process.pid}.${randomBytesPooled(6).toString("hex")}.tmp`;
    // fs.promises here: only its typings take numeric open flags (sign-ins only, not every request).
    await this.#files.inDir(temp, () => fs.promises.writeFile(temp, "", { mode: FILE_MODE, flag: constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW }));
    try {
      // Never lowered; whole seconds, rounded up: a fractional time could come back a millisecond early.
      const until = Math.ceil(Math.max((await mtimeOf(entry)) ?? 0, keepUntil) / 1000);
      await utimes(temp, until, until);
      await rename(temp, entry);
    } catch (error) {
      await unlinkIfExists(temp);
      throw error;
    }
  }

  /** Removes the entry file; a missing one is already gone. */
  async unindexOwner(owner: string, key: string): Promise<void> {
    const entry = this.#files.indexEntryOf(owner, key);
    await this.#files.checkTrust();
    await unlinkIfExists(entry);
  }

  /** Reads the owner's entries and their records: O(that owner's sessions). */
  async listByOwner(owner: string): Promise<OwnedSession[]> {
    const dir = this.#files.ownerDir(owner);
    await this.#files.checkTrust();
    const names = (await listIfExists(dir)).filter((name) => HEX_NAME.test(name));
    const listed = await inBatches(names, async (name) => {
      const key = Buffer.from(name, "hex").toString("latin1");
      const record = KEY_PATTERN.test(key) ? await this.get(key) : null;
      if (record?.owner === owner) return { key, record };
      await this.#dropIfStale(join(dir, name), record !== null);
      return null;
    });
    return listed.filter((entry): entry is OwnedSession => entry !== null);
  }

  /** Exact number of live sessions. Cost: a scan of every file's header (O(sessions) reads). */
  async count(): Promise<number> {
    await this.#files.checkTrust();
    const now = this.#now();
    let live = 0;
    for (const sub of await this.#files.subDirs()) {
      const names = (await listIfExists(sub)).filter((name) => SESSION_FILE.test(name));
      const headers = await inBatches(names, (name) => readHeader(join(sub, name)));
      for (const header of headers) if (header && header.expiresAt > now) live++;
    }
    return live;
  }

  /**
   * Removes expired sessions (the figure returned), and also temp files orphaned by a killed
   * writer, abandoned locks, corrupt files and empty sub-directories (not counted).
   */
  async gc(): Promise<number> {
    await this.#files.checkTrust();
    let removed = 0;
    for (const sub of await this.#files.subDirs()) {
      const counts = await inBatches(await listIfExists(sub), (name) => this.#collect(name, join(sub, name)));
      for (const n of counts) removed += n;
      await rmdir(sub).catch(() => {}); // only succeeds when empty; a writer recreates it on demand
    }
    await this.#collectIndex();
    await this.#locks.collectHolders();
    return removed;
  }

  close(): void {}

  // ---- locking ----

  /**
   * Serializes work on one key: in this process by a promise chain, across processes by the lock
   * file. When `signal` aborts, the wait for the lock file stops and the work is not started (a
   * call queued behind another write of this process starts nothing once that one ends), so a
   * write its caller already reported as failed never lands later.
   */
  #locked<R>(key: string, path: string, signal: AbortSignal | undefined, work: () => Promise<R>, refuseEarly?: () => Promise<R | undefined>): Promise<R> {
    const previous = this.#queues.get(key);
    // A write with no writer of this process ahead of it skips refuseEarly: it is one read (four
    // file system calls) that an uncontended write, the common case, would only repeat under the lock.
    const turn = previous ? Promise.all([previous.catch(() => {}), this.#files.checkTrust()]).then(() => refuseEarly?.()) : this.#files.checkTrust().then(() => undefined);
    const run = turn.then((refused) => refused ?? this.#locks.withLock(path, work, signal));
    const tail = run.catch(() => {});
    this.#queues.set(key, tail);
    void tail.then(() => {
      if (this.#queues.get(key) === tail) this.#queues.delete(key);
    });
    return run;
  }

  // ---- gc helpers ----

  async #collect(name: string, path: string): Promise<number> {
    if (SESSION_FILE.test(name)) return this.#collectSession(path);
    if (name.endsWith(".tmp") || name.endsWith(".broken")) await this.#collectTemp(path);
    else if (name.endsWith(".lock")) await this.#locks.breakIfStale(path);
    return 0;
  }

  async #collectSession(path: string): Promise<number> {
    const header = await readHeader(path);
    if (header && header.expiresAt > this.#now()) return 0;
    if (!header) {
      // Unreadable as a session: only removed once old, in case it is a newer format being written.
      await this.#collectTemp(path);
      return 0;
    }
    // Re-checked under the key's lock, so a session renewed meanwhile by another process survives.
    return this.#locks.withLock(path, async () => {
      const again = await readHeader(path);
      if (!again || again.expiresAt > this.#now()) return 0;
      return (await unlinkIfExists(path)) ? 1 : 0;
    }).catch((error: unknown) => {
      if (error instanceof LockTimeoutError) return 0; // busy: the next gc gets it
      throw error;
    });
  }

  /** Removes stale index entries (see #dropIfStale) and empty owner directories. */
  async #collectIndex(): Promise<void> {
    const root = join(this.#files.dir, OWNERS_DIR);
    for (const name of (await listIfExists(root)).filter((entry) => HEX_NAME.test(entry))) {
      const owner = Buffer.from(name, "hex").toString("latin1");
      if (KEY_PATTERN.test(owner)) await this.listByOwner(owner);
      await rmdir(join(root, name)).catch(() => {}); // only succeeds when empty
    }
  }

  /**
   * A foreign record's entry goes at once; one whose record is missing or expired once it was
   * written more than PENDING_GRACE_MS ago (its ctime: the rename that put it in place) or its
   * keepUntil (mtime) has passed. Before that it may be a sign-in that has not written its record yet.
   */
  async #dropIfStale(entry: string, foreign: boolean): Promise<void> {
    const info = await stat(entry).catch(() => null);
    if (!info) return;
    if (foreign || info.mtimeMs <= this.#now() || info.ctimeMs <= Date.now() - PENDING_GRACE_MS) await unlinkIfExists(entry);
  }

  /** Removes a file (a temp file of a killed writer, a broken lock, junk) once it is a minute old. */
  async #collectTemp(path: string): Promise<void> {
    const mtime = await mtimeOf(path);
    if (mtime !== null && Date.now() - mtime > ORPHAN_TEMP_AGE) await unlinkIfExists(path);
  }
}

function positive(value: Duration, name: string): number {
  const parsed = toMilliseconds(value, name);
  if (parsed <= 0) throw new TypeError(`FileStore: option "${name}" must be a positive duration such as 4000 or "4s"; got ${JSON.stringify(value)}`);
  return parsed;
}

/**
 * Sessions as files in one directory, shared safely by every process on the machine
 * (Node cluster workers, several servers behind a proxy on one host).
 *
 * - A file name is never taken from the client: the key is checked against the store contract's
 *   alphabet, then hashed (SHA-256, hex) into `<dir>/<2 hex>/<64 hex>`. Hex, not base64url, because
 *   macOS and Windows file systems ignore case and would merge keys that differ only in case.
 *   (beego's file provider joined the client's id into the path: path traversal.)
 * - Writes go to a temp file in the same directory, then rename(2) over the target: POSIX makes the
 *   rename atomic, so a process killed at any instant leaves the old file or the new one, never a mix.
 * - Compare-and-set across processes: a per-key lock file, a hard link to this store's holder file
 *   (its owner line), which exactly one process can create. Reads take no lock: they see a whole
 *   old or a whole new file.
 * - count() and gc() scan the whole directory: fine for thousands of sessions; for more, or for
 *   several hosts, use Redis, PostgreSQL or MySQL (see docs/stores/file.md).
 * - The directory must be trusted: owned by this process's user and writable by no one else,
 *   checked at first use. Files are opened with O_NOFOLLOW | O_NONBLOCK and anything that is not
 *   a regular file is "not found", so a planted symlink or FIFO can neither forge nor hang a read.
 * - An owner's sessions are listed from `<dir>/owners/<hex owner>/<hex key>` (empty files written
 *   by indexOwner before the record, mtime = keepUntil), each checked against its record when listed.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import type { Stats } from "node:fs";
import { constants } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { SessionStoreError } from "../core/errors.js";
import { randomBytesPooled } from "../core/random.js";
import type { OwnedSession, SessionStore, SessionWrite, StoreCallOptions, StoredSession } from "../core/store.js";

export interface FileStoreOptions {
  /** The directory (created with mode 0700 if missing). Give each application its own. */
  dir: string;
  /**
   * Default false: fsync each file and its directory before the write counts as done. Off, a
   * power cut (not a crash: the kernel still holds the data) may lose the last seconds of writes,
   * but never tears a file. On, every commit waits for the disk (milliseconds on SSD).
   */
  fsync?: boolean;
  /** Default 10000 ms: a lock file this old is abandoned (its owner hung or died on another host). */
  staleLockAfter?: number;
  /**
   * Default 4000 ms: how long a write waits for another process's lock before it fails. Below the
   * manager's default storeTimeout (5 s), so the caller sees this store's own, clearer error.
   */
  lockTimeout?: number;
  /** Default Date.now: the clock that decides expiry (injectable for tests). */
  now?: () => number;
}

// The store contract's key alphabet: anything else is a caller bug, refused before any disk access.
const KEY_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const SESSION_FILE = /^[0-9a-f]{64}$/;
const SUB_DIR = /^[0-9a-f]{2}$/;
const OWNERS_DIR = "owners";
const HEX_NAME = /^(?:[0-9a-f]{2}){1,64}$/;
const MAGIC = "SKF1";
const HEADER_PROBE_BYTES = 128;
// Below Node's pool threshold (4 KiB), so the buffer of a small file's read is a slice of the pool.
const SMALL_READ_BYTES = 4095;
const ORPHAN_TEMP_AGE = 60_000;
const HOLDER_SUFFIX = ".holder";
const HOLDER_FILE = /^\d+\.[0-9a-f]{12}\.holder$/;
const SCAN_CONCURRENCY = 32;
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
// Reads never follow a symlink (ELOOP) and never block on a FIFO or device.
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

// Node's callback API, promisified, on plain file descriptors: node:fs/promises costs about twice
// the CPU per call (a FileHandle object per open file, heavier promise plumbing), and every call
// here is a trip through libuv's thread pool on the request path (bench/README.md, "Fifth pass").
const chmod = promisify(fs.chmod);
const closeFd = promisify(fs.close);
const fchmodFd = promisify(fs.fchmod);
const fstatFd = promisify(fs.fstat);
const fsyncFd = promisify(fs.fsync);
const link = promisify(fs.link);
const lstat = promisify(fs.lstat);
const mkdir = promisify(fs.mkdir);
const openFd = promisify(fs.open);
const readFd = promisify(fs.read);
const readdir = promisify(fs.readdir);
const rename = promisify(fs.rename);
const rmdir = promisify(fs.rmdir);
const stat = promisify(fs.stat);
const unlink = promisify(fs.unlink);
const utimes = promisify(fs.utimes);
const writeFd = promisify(fs.write);
const writeFile = promisify(fs.writeFile);

class LockTimeoutError extends Error {
  constructor(lock: string, waited: number) {
    super(`FileStore: lock ${lock} still held by another process after ${waited} ms`);
  }
}

/** This store's lock holder file: `<dir>/<pid>.<random>.holder`, holding the owner line. */
interface Holder {
  path: string;
  ino: number;
  dev: number;
  /** When its mtime was last brought to now (Date.now()). */
  refreshedAt: number;
}

interface Header {
  version: number;
  expiresAt: number;
  encoding: "r" | "j";
  length: number;
  bodyStart: number;
  owner: string | undefined;
}

export class FileStore implements SessionStore {
  readonly #dir: string;
  readonly #fsync: boolean;
  readonly #staleLockAfter: number;
  readonly #lockTimeout: number;
  readonly #now: () => number;
  /** In-process queue per key, so this process's own writers wait in line instead of polling the lock file. */
  readonly #queues = new Map<string, Promise<unknown>>();
  #rootReady: Promise<void> | undefined;
  #trusted: Promise<void> | undefined;
  /** Created at the first lock; every lock file is a hard link to it (see #acquire). */
  #holder: Promise<Holder> | undefined;
  /** Learned from the first file written (#fixMode): whether the umask narrows new files below 0600. */
  #umaskNarrows: boolean | undefined;

  constructor(options: FileStoreOptions) {
    if (!options || typeof options.dir !== "string" || options.dir === "") {
      throw new TypeError('FileStore: option "dir" must be a directory path, e.g. new FileStore({ dir: "./.sessions" })');
    }
    this.#dir = resolve(options.dir);
    this.#fsync = options.fsync ?? false;
    this.#staleLockAfter = positive(options.staleLockAfter ?? 10_000, "staleLockAfter");
    this.#lockTimeout = positive(options.lockTimeout ?? 4_000, "lockTimeout");
    this.#now = options.now ?? Date.now;
  }

  async get(key: string): Promise<StoredSession | null> {
    const path = this.#pathOf(key);
    await this.#checkTrust();
    const bytes = await readIfExists(path);
    return bytes ? liveRecord(bytes, this.#now()) : null;
  }

  set(key: string, write: SessionWrite, options?: StoreCallOptions): Promise<boolean> {
    const path = this.#pathOf(key);
    // Checked without the lock when this write waited behind another write of this process: reads
    // see whole files, so a mismatch then is a valid moment to refuse, and a hopeless write never
    // takes the lock file (with 150 writers on one session most attempts are such retries).
    const refuseEarly = async () => (((await this.get(key))?.version ?? 0) !== write.expectedVersion ? false : undefined);
    return this.#locked(key, path, options?.signal, async () => {
      const current = await this.get(key);
      if ((current?.version ?? 0) !== write.expectedVersion) return false;
      // Never lower a live record's expiry: a slow request committing last must not shorten the session.
      const expiresAt = Math.max(current?.expiresAt ?? 0, write.expiresAt);
      await this.#writeAtomically(path, { data: write.data, expiresAt, version: write.version, owner: write.owner }, options?.signal);
      return true;
    }, refuseEarly);
  }

  destroy(key: string, options?: StoreCallOptions): Promise<void> {
    const path = this.#pathOf(key);
    return this.#locked(key, path, options?.signal, () => unlinkIfExists(path).then(() => undefined));
  }

  touch(key: string, expiresAt: number, options?: StoreCallOptions): Promise<void> {
    const path = this.#pathOf(key);
    return this.#locked(key, path, options?.signal, async () => {
      const current = await this.get(key);
      if (current && expiresAt > current.expiresAt) await this.#writeAtomically(path, { ...current, expiresAt }, options?.signal);
    });
  }

  /**
   * An empty file `owners/<hex owner>/<hex key>` whose mtime is the entry's keepUntil (never
   * lowered): until then it is kept even while its record is missing (a sign-in in flight).
   */
  async indexOwner(owner: string, key: string, keepUntil: number): Promise<void> {
    const entry = this.#indexEntryOf(owner, key);
    await this.#checkTrust();
    // fs.promises here: only its typings take numeric open flags (sign-ins only, not every request).
    await this.#inDir(entry, () => fs.promises.writeFile(entry, "", { mode: FILE_MODE, flag: constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW }));
    // Whole seconds, rounded up: a fractional time could come back a millisecond early.
    const until = Math.ceil(Math.max((await stat(entry)).mtimeMs, keepUntil) / 1000);
    await utimes(entry, until, until);
  }

  /** Removes the entry file; a missing one is already gone. */
  async unindexOwner(owner: string, key: string): Promise<void> {
    const entry = this.#indexEntryOf(owner, key);
    await this.#checkTrust();
    await unlink(entry).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
  }

  /** Reads the owner's entries and their records: O(that owner's sessions). */
  async listByOwner(owner: string): Promise<OwnedSession[]> {
    const dir = this.#ownerDir(owner);
    await this.#checkTrust();
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
    await this.#checkTrust();
    const now = this.#now();
    let live = 0;
    for (const sub of await this.#subDirs()) {
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
    await this.#checkTrust();
    let removed = 0;
    for (const sub of await this.#subDirs()) {
      const counts = await inBatches(await listIfExists(sub), (name) => this.#collect(name, join(sub, name)));
      for (const n of counts) removed += n;
      await rmdir(sub).catch(() => {}); // only succeeds when empty; a writer recreates it on demand
    }
    await this.#collectIndex();
    await this.#collectHolders();
    return removed;
  }

  close(): void {}

  // ---- paths ----

  #pathOf(key: string): string {
    if (typeof key !== "string" || !KEY_PATTERN.test(key)) {
      throw new TypeError(`FileStore: a key must match ${KEY_PATTERN} (got ${JSON.stringify(String(key).slice(0, 80))})`);
    }
    const name = createHash("sha256").update(key).digest("hex");
    return join(this.#dir, name.slice(0, 2), name);
  }

  #ownerDir(owner: string): string {
    if (typeof owner !== "string" || !KEY_PATTERN.test(owner)) {
      throw new TypeError(`FileStore: an owner must match ${KEY_PATTERN} (got ${JSON.stringify(String(owner).slice(0, 80))})`);
    }
    // Hex of the bytes, not the text: reversible, and distinct on file systems that ignore case.
    return join(this.#dir, OWNERS_DIR, Buffer.from(owner, "latin1").toString("hex"));
  }

  #indexEntryOf(owner: string, key: string): string {
    this.#pathOf(key); // validates the key
    return join(this.#ownerDir(owner), Buffer.from(key, "latin1").toString("hex"));
  }

  /**
   * Refuses, once, a directory that someone else could write to: they could plant a record (a
   * forged "admin" session) or a lock. It must be owned by this process's user and not writable
   * by group or others. A missing directory is fine (it is created 0700) and checked again later.
   */
  #checkTrust(): Promise<void> {
    this.#trusted ??= checkTrusted(this.#dir).then(
      (checked) => {
        if (!checked) this.#trusted = undefined;
      },
      (error: unknown) => {
        this.#trusted = undefined;
        throw error;
      },
    );
    return this.#trusted;
  }

  async #subDirs(): Promise<string[]> {
    const names = await listIfExists(this.#dir);
    return names.filter((name) => SUB_DIR.test(name)).map((name) => join(this.#dir, name));
  }

  /** Creates the root and the sub-directory with mode 0700, whatever the umask. */
  async #ensureDir(sub: string): Promise<void> {
    await this.#ensureRoot();
    if (join(sub, "..") !== this.#dir) await makeDir(join(sub, ".."));
    await makeDir(sub);
  }

  #ensureRoot(): Promise<void> {
    this.#rootReady ??= makeDir(this.#dir).then(() => this.#checkTrust()).catch((error: unknown) => {
      this.#rootReady = undefined;
      throw error;
    });
    return this.#rootReady;
  }

  /** Runs `create` and, if the sub-directory is missing (first write, or gc just removed it), makes it and retries. */
  async #inDir<R>(path: string, create: () => Promise<R>): Promise<R> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await create();
      } catch (error) {
        if (code(error) !== "ENOENT" || attempt === 3) throw error;
        await this.#ensureDir(join(path, ".."));
      }
    }
  }

  // ---- writing ----

  async #writeAtomically(path: string, record: StoredSession, signal?: AbortSignal): Promise<void> {
    const temp = `${path}.${process.pid}.${randomBytesPooled(6).toString("hex")}.tmp`;
    const bytes = encodeRecord(record);
    const fd = await this.#inDir(path, () => openFd(temp, "wx", FILE_MODE));
    try {
      await this.#fixMode(fd);
      await writeAll(fd, bytes);
      if (this.#fsync) await fsyncFd(fd);
    } catch (error) {
      await closeFd(fd);
      await unlinkIfExists(temp);
      throw error;
    }
    await closeFd(fd);
    try {
      // The last moment a write can still be withdrawn: after the caller gave up, it must not land.
      signal?.throwIfAborted();
      await rename(temp, path);
    } catch (error) {
      await unlinkIfExists(temp);
      throw error;
    }
    if (this.#fsync) await syncDir(join(path, ".."));
  }

  /**
   * A umask cannot widen open's 0600, but an odd one (0277, say) could narrow it to unreadable. The
   * first temp file of this store tells; only if it came out wrong is every file chmod-ed after.
   */
  async #fixMode(fd: number): Promise<void> {
    this.#umaskNarrows ??= ((await fstatFd(fd)).mode & 0o777) !== FILE_MODE;
    if (this.#umaskNarrows) await fchmodFd(fd, FILE_MODE);
  }

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
    const turn = previous ? Promise.all([previous.catch(() => {}), this.#checkTrust()]).then(() => refuseEarly?.()) : this.#checkTrust().then(() => undefined);
    const run = turn.then((refused) => refused ?? this.#withLockFile(path, work, signal));
    const tail = run.catch(() => {});
    this.#queues.set(key, tail);
    void tail.then(() => {
      if (this.#queues.get(key) === tail) this.#queues.delete(key);
    });
    return run;
  }

  async #withLockFile<R>(path: string, work: () => Promise<R>, signal?: AbortSignal): Promise<R> {
    signal?.throwIfAborted();
    const lock = `${path}.lock`;
    const holder = await this.#acquire(lock, signal);
    try {
      signal?.throwIfAborted();
      return await work();
    } finally {
      await releaseLock(lock, holder);
    }
  }

  /**
   * Takes the lock with jittered backoff (1 ms doubling to 64 ms); breaks locks of dead or hung owners.
   * The lock is a hard link to this store's holder file, which already holds the owner line: link(2)
   * fails with EEXIST like O_EXCL, but a lock never appears without its owner in it, even if the
   * process is killed in between. One link per lock, where a draft per lock cost four more calls.
   * Resolves to the holder linked, whose inode tells at release whether the lock is still ours.
   */
  async #acquire(lock: string, signal?: AbortSignal): Promise<Holder> {
    const deadline = Date.now() + this.#lockTimeout;
    for (let attempt = 0; ; attempt++) {
      const holder = await this.#freshHolder();
      try {
        await link(holder.path, lock);
        return holder;
      } catch (error) {
        if (code(error) === "ENOENT" && Date.now() < deadline) {
          await this.#repairMissing(holder, lock);
          continue;
        }
        if (code(error) !== "EEXIST") throw error;
      }
      if (await this.#breakIfStale(lock)) continue;
      if (Date.now() >= deadline) throw new LockTimeoutError(lock, this.#lockTimeout);
      await sleep(Math.random() * Math.min(64, 2 ** attempt), undefined, { signal });
    }
  }

  /**
   * The holder file, its mtime brought to now when a quarter of staleLockAfter has passed: every
   * lock is a link to it, so that mtime is the lock's age as a breaker judges it (a heartbeat,
   * not the time the lock was taken). A lock held for less than 3/4 of staleLockAfter is never
   * judged stale while this process lives.
   */
  async #freshHolder(): Promise<Holder> {
    const holder = await (this.#holder ??= this.#createHolder());
    if (Date.now() - holder.refreshedAt > this.#staleLockAfter / 4) {
      holder.refreshedAt = Date.now();
      const seconds = holder.refreshedAt / 1000;
      await utimes(holder.path, seconds, seconds).catch((error: unknown) => (code(error) === "ENOENT" ? undefined : Promise.reject(error)));
    }
    return holder;
  }

  async #createHolder(): Promise<Holder> {
    await this.#ensureRoot();
    const path = join(this.#dir, `${process.pid}.${randomBytesPooled(6).toString("hex")}${HOLDER_SUFFIX}`);
    try {
      await writeFile(path, `${process.pid} ${hostname()} ${Date.now()} ${randomBytesPooled(6).toString("hex")}`, { flag: "wx", mode: FILE_MODE });
      const { ino, dev } = await lstat(path);
      return { path, ino, dev, refreshedAt: Date.now() };
    } catch (error) {
      this.#holder = undefined; // the next lock tries again
      throw error;
    }
  }

  /**
   * link(2) said ENOENT: the lock's sub-directory is missing (first write there, or gc removed it),
   * or the holder file is (gc removes holders idle for a minute): make the one that is missing.
   * A new holder gets a new name, so a name can never point at another holder's inode.
   */
  async #repairMissing(holder: Holder, lock: string): Promise<void> {
    if ((await lstatIfExists(holder.path)) !== null) {
      await this.#ensureDir(join(lock, ".."));
      return;
    }
    if (this.#holder !== undefined && (await this.#holder) === holder) this.#holder = undefined;
  }

  /**
   * Removes a lock whose owner died (same host, pid gone) or that is older than staleLockAfter.
   * It is renamed aside first and removed only if it is still the lock judged stale; if a
   * competing breaker already replaced it with a fresh one, that fresh lock is put back.
   */
  async #breakIfStale(lock: string): Promise<boolean> {
    const content = await readIfExists(lock);
    if (!content) return true; // released meanwhile: try again at once
    const info = await stat(lock).catch(() => null);
    if (!info) return true;
    const text = content.toString("utf8");
    // Lock ages are real time, not the injectable session clock: they are about live processes.
    if (Date.now() - info.mtimeMs < this.#staleLockAfter && !ownerIsDead(text)) return false;
    const aside = `${lock}.${randomBytesPooled(6).toString("hex")}.broken`;
    try {
      await rename(lock, aside);
    } catch (error) {
      if (code(error) === "ENOENT") return true;
      throw error;
    }
    // The inode and mtime tell the lock judged from another: every lock of one holder has the same
    // owner line, but one its holder took again meanwhile has a new mtime (the holder brings it up
    // to date first, as its lock looked stale), and another process's lock another inode.
    const taken = await lstatIfExists(aside);
    if (taken && (taken.ino !== info.ino || taken.dev !== info.dev || taken.mtimeMs !== info.mtimeMs)) {
      // A competing breaker already replaced it with a fresh lock: give that back, unless a third
      // process took the free slot meanwhile (link fails then; a rare double holder, see docs).
      await link(aside, lock).catch(() => {});
      await unlinkIfExists(aside);
      return false;
    }
    await unlinkIfExists(aside);
    return true;
  }

  // ---- gc helpers ----

  async #collect(name: string, path: string): Promise<number> {
    if (SESSION_FILE.test(name)) return this.#collectSession(path);
    if (name.endsWith(".tmp") || name.endsWith(".broken")) await this.#collectTemp(path);
    else if (name.endsWith(".lock")) await this.#breakIfStale(path);
    return 0;
  }

  async #collectSession(path: string): Promise<number> {
    const header = await readHeader(path);
    if (header && header.expiresAt > this.#now()) return 0;
    if (!header) {
      // Unreadable as a session: only removed once old, in case it is a newer format being written.
      const info = await stat(path).catch(() => null);
      if (info && Date.now() - info.mtimeMs > ORPHAN_TEMP_AGE) await unlinkIfExists(path);
      return 0;
    }
    // Re-checked under the key's lock, so a session renewed meanwhile by another process survives.
    return this.#withLockFile(path, async () => {
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
    const root = join(this.#dir, OWNERS_DIR);
    for (const name of (await listIfExists(root)).filter((entry) => HEX_NAME.test(entry))) {
      const owner = Buffer.from(name, "hex").toString("latin1");
      if (KEY_PATTERN.test(owner)) await this.listByOwner(owner);
      await rmdir(join(root, name)).catch(() => {}); // only succeeds when empty
    }
  }

  /**
   * Removes other processes' holder files: at once when their process is dead (this host), else
   * once idle for a minute. A live process whose holder was removed makes a new one at its next lock.
   */
  async #collectHolders(): Promise<void> {
    const ours = this.#holder && (await this.#holder.catch(() => undefined))?.path;
    for (const name of (await listIfExists(this.#dir)).filter((entry) => HOLDER_FILE.test(entry))) {
      const path = join(this.#dir, name);
      if (path === ours) continue;
      const [content, info] = await Promise.all([readIfExists(path), stat(path).catch(() => null)]);
      if (content === null || info === null) continue;
      if (ownerIsDead(content.toString("utf8")) || Date.now() - info.mtimeMs > ORPHAN_TEMP_AGE) await unlinkIfExists(path);
    }
  }

  /** A foreign record's entry goes at once; one whose record is missing or expired only after its keepUntil (mtime). */
  async #dropIfStale(entry: string, foreign: boolean): Promise<void> {
    const info = await stat(entry).catch(() => null);
    if (info && (foreign || info.mtimeMs <= this.#now())) await unlinkIfExists(entry);
  }

  async #collectTemp(path: string): Promise<void> {
    const info = await stat(path).catch(() => null);
    if (info && Date.now() - info.mtimeMs > ORPHAN_TEMP_AGE) await unlinkIfExists(path);
  }
}

// ---- the file format: "SKF1 <version> <expiresAt> <r|j> <byteLength>\n<body>" ----

function encodeRecord(record: StoredSession): Buffer {
  // Lone UTF-16 surrogates do not survive UTF-8; such data is stored as a JSON string instead.
  const wellFormed = (record.data as string & { isWellFormed?: () => boolean }).isWellFormed?.() ?? true;
  const body = Buffer.from(wellFormed ? record.data : JSON.stringify(record.data), "utf8");
  const owner = record.owner === undefined ? "" : ` ${record.owner}`;
  const header = `${MAGIC} ${record.version} ${record.expiresAt} ${wellFormed ? "r" : "j"} ${body.length}${owner}\n`;
  return Buffer.concat([Buffer.from(header, "latin1"), body]);
}

function parseHeader(bytes: Buffer): Header | null {
  const end = bytes.indexOf(10);
  if (end < 0 || end > HEADER_PROBE_BYTES) return null;
  const parts = bytes.toString("latin1", 0, end).split(" ");
  // A sixth field is the owner (absent for an anonymous session, and in files of sessionkit 0.1).
  if ((parts.length !== 5 && parts.length !== 6) || parts[0] !== MAGIC) return null;
  const owner = parts[5];
  if (owner !== undefined && !KEY_PATTERN.test(owner)) return null;
  const [version, expiresAt, length] = [Number(parts[1]), Number(parts[2]), Number(parts[4])];
  const encoding = parts[3];
  if (!Number.isSafeInteger(version) || version < 1 || !Number.isFinite(expiresAt)) return null;
  if (!Number.isSafeInteger(length) || length < 0 || (encoding !== "r" && encoding !== "j")) return null;
  return { version, expiresAt, encoding, length, bodyStart: end + 1, owner };
}

/** The record if the bytes are a whole, well-formed, unexpired file; corrupt is "not found". */
function liveRecord(bytes: Buffer, now: number): StoredSession | null {
  const header = parseHeader(bytes);
  if (!header || header.expiresAt <= now || bytes.length !== header.bodyStart + header.length) return null;
  const body = bytes.toString("utf8", header.bodyStart);
  const data = header.encoding === "r" ? body : jsonString(body);
  if (data === null) return null;
  const record: StoredSession = { data, expiresAt: header.expiresAt, version: header.version };
  if (header.owner !== undefined) record.owner = header.owner;
  return record;
}

function jsonString(body: string): string | null {
  try {
    const data: unknown = JSON.parse(body);
    return typeof data === "string" ? data : null;
  } catch {
    return null;
  }
}

async function readHeader(path: string): Promise<Header | null> {
  const opened = await openRegularFile(path);
  if (!opened) return null;
  const { fd } = opened;
  try {
    const probe = Buffer.alloc(HEADER_PROBE_BYTES + 1);
    const { bytesRead } = await readFd(fd, probe, 0, probe.length, 0);
    return parseHeader(probe.subarray(0, bytesRead));
  } finally {
    await closeFd(fd);
  }
}

// ---- small fs helpers: "missing" is an answer, every other error is a system failure ----

function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/**
 * The whole file, or null when it is missing, a symlink, a directory or a big non-regular file (a
 * FIFO with nothing written reads as empty, which is no session either). A file that fits one
 * pooled buffer, as sessions mostly do, costs open, read and close; a bigger one fstat too, for
 * its size. Files are replaced by rename, never changed in place, so the opened inode keeps its
 * content between the reads.
 */
async function readIfExists(path: string): Promise<Buffer | null> {
  let fd: number;
  try {
    fd = await openFd(path, READ_FLAGS);
  } catch (error) {
    if (code(error) === "ENOENT" || code(error) === "ELOOP" || code(error) === "ENXIO") return null;
    throw error;
  }
  try {
    const first = Buffer.allocUnsafe(SMALL_READ_BYTES);
    // From the current offset (0): a positioned read of a FIFO fails with ESPIPE.
    const { bytesRead } = await readFd(fd, first, 0, first.length, null);
    if (bytesRead < first.length) return first.subarray(0, bytesRead);
    const info = await fstatFd(fd);
    if (!info.isFile()) return null;
    const whole = Buffer.allocUnsafe(info.size);
    first.copy(whole);
    const { bytesRead: rest } = await readFd(fd, whole, first.length, info.size - first.length, first.length);
    return whole.subarray(0, first.length + rest);
  } catch (error) {
    // A directory, or a FIFO whose writer has sent nothing: not a session file.
    if (code(error) === "EISDIR" || code(error) === "EAGAIN") return null;
    throw error;
  } finally {
    await closeFd(fd);
  }
}

/**
 * Opens a regular file for reading without following a symlink (ELOOP) or blocking on a FIFO;
 * a missing file, a symlink, or anything that is not a regular file is null ("not found").
 */
async function openRegularFile(path: string): Promise<{ fd: number; size: number } | null> {
  let fd: number;
  try {
    fd = await openFd(path, READ_FLAGS);
  } catch (error) {
    if (code(error) === "ENOENT" || code(error) === "ELOOP") return null;
    throw error;
  }
  let info: Stats;
  try {
    info = await fstatFd(fd);
  } catch (error) {
    await closeFd(fd);
    throw error;
  }
  if (info.isFile()) return { fd, size: info.size };
  await closeFd(fd);
  return null;
}

/** write(2) may take less than asked (a full disk, a signal): goes on until every byte is written. */
async function writeAll(fd: number, bytes: Buffer): Promise<void> {
  for (let written = 0; written < bytes.length; ) {
    written += (await writeFd(fd, bytes, written, bytes.length - written, written)).bytesWritten;
  }
}

/**
 * Throws SessionStoreError naming the directory when it is not ours or others can write to it.
 * Resolves false when it does not exist yet (nothing to trust; it is created 0700 on first write).
 */
async function checkTrusted(dir: string): Promise<boolean> {
  const uid = process.getuid?.();
  if (uid === undefined) return true; // Windows: no POSIX owner or mode bits to check
  const info = await stat(dir).catch((error: unknown) => (code(error) === "ENOENT" ? null : Promise.reject(error)));
  if (!info) return false;
  if (!info.isDirectory()) throw new SessionStoreError(`FileStore: ${dir} is not a directory`);
  if (info.uid !== uid) throw new SessionStoreError(`FileStore: refusing ${dir}: it is owned by uid ${info.uid}, not by this process (uid ${uid}); anyone who owns it can plant sessions`);
  if ((info.mode & 0o022) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, "0");
    throw new SessionStoreError(`FileStore: refusing ${dir}: mode ${mode} lets group or others write to it and plant sessions; run chmod 700 on it`);
  }
  return true;
}

async function listIfExists(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (code(error) === "ENOENT") return [];
    throw error;
  }
}

async function unlinkIfExists(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if (code(error) === "ENOENT") return false;
    throw error;
  }
}

async function makeDir(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode: DIR_MODE });
  if (created !== undefined) await chmod(dir, DIR_MODE); // mkdir's mode is masked by the umask
}

async function syncDir(dir: string): Promise<void> {
  const fd = await openFd(dir, "r");
  try {
    await fsyncFd(fd);
  } finally {
    await closeFd(fd);
  }
}

/**
 * Releases our lock only if it is still ours (a hung holder's lock may have been broken and taken
 * over meanwhile): the lock must still be the holder's inode.
 */
async function releaseLock(lock: string, holder: Holder): Promise<void> {
  const held = await lstatIfExists(lock);
  if (held !== null && held.ino === holder.ino && held.dev === holder.dev) await unlinkIfExists(lock);
}

async function lstatIfExists(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (error) {
    if (code(error) === "ENOENT") return null;
    throw error;
  }
}

/** True when the lock names a process on this host that no longer exists. */
function ownerIsDead(lockText: string): boolean {
  const [pid, host] = lockText.split(" ");
  if (host !== hostname() || !pid || !/^\d+$/.test(pid)) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return code(error) === "ESRCH";
  }
}

function positive(value: number, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`FileStore: option "${name}" must be a positive number of milliseconds; got ${String(value)}`);
  }
  return value;
}

/** Maps with at most SCAN_CONCURRENCY operations in flight: parallel enough for the disk, far below EMFILE. */
async function inBatches<T, R>(items: T[], map: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += SCAN_CONCURRENCY) {
    results.push(...(await Promise.all(items.slice(start, start + SCAN_CONCURRENCY).map(map))));
  }
  return results;
}


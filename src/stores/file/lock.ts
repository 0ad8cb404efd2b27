/**
 * FileStore's cross-process lock: one lock file per session key, `<record>.lock`.
 *
 * Why a lock at all. Django's file backend takes none, and needs none: its save is "last writer
 * wins", and a temp file renamed over the record already makes each write whole. sessionkit's
 * store contract asks for more: `set` is a compare-and-set (write only if the stored version is
 * still the one the caller read), and a read, a compare and a rename are three steps another
 * process can slip between, so two requests could both replace version 3 and one change would be
 * lost. The lock makes read-compare-rename one step across processes; reads take no lock (they
 * see a whole old or a whole new file).
 *
 * How. Each store makes one holder file `<dir>/<pid>.<random>.holder` holding its owner line
 * (`<pid> <host> <time> <random>`); a lock is a hard link to it. link(2) fails with EEXIST when
 * the lock exists, as O_EXCL does, and a lock never appears without its owner line, even if the
 * process is killed in between. At release the lock's inode tells whether it is still ours.
 *
 * Stale locks. A lock's age is its holder file's mtime, brought up to date while the process
 * takes locks (a heartbeat). A lock is broken when its owner is a dead process on this host, or
 * when it is older than `staleLockAfter`. The age rule is kept, also for owners on other hosts
 * sharing the directory, because one host needs it anyway: a hung process, or a pid reused by
 * another program, looks alive to kill(pid, 0), and only the age frees its locks; the same rule
 * then covers another host's lock at no extra code (the only host-specific code is that a pid is
 * probed on its own host only). Breaking renames the lock aside first and removes it only if it
 * is still the lock judged stale (see breakIfStale).
 */
import { hostname } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { randomBytesPooled } from "../../core/random.js";
import { code, FILE_MODE, link, listIfExists, lstat, lstatIfExists, mtimeOf, readRegularFile, rename, stat, unlinkIfExists, utimes, writeFile } from "./fs.js";

const HOLDER_FILE = /^\d+\.[0-9a-f]{12}\.holder$/;
/** Holder files of other processes idle this long are removed by gc (their owner makes a new one). */
const IDLE_HOLDER_AGE = 60_000;

export class LockTimeoutError extends Error {
  constructor(lock: string, waited: number) {
    super(`FileStore: lock ${lock} still held by another process after ${waited} ms`);
  }
}

/** This store's lock holder file, holding the owner line. */
interface Holder {
  path: string;
  ino: number;
  dev: number;
  /** When its mtime was last brought to now (Date.now()). */
  refreshedAt: number;
}

/** Where locks live: the store's directory (see directory.ts), which the lock creates on demand. */
export interface LockDirectory {
  readonly dir: string;
  /** Creates (and checks) the store's directory, where the holder file goes. */
  ensureRoot(): Promise<void>;
  /** Creates a lock's missing sub-directory. */
  ensureDir(dir: string): Promise<void>;
}

export interface LockTimes {
  /** A lock whose holder file is this old (ms) is abandoned. */
  staleLockAfter: number;
  /** How long (ms) to wait for another process's lock. */
  lockTimeout: number;
}

/** The lock files of one store. Lock ages are real time, not the session clock: they are about live processes. */
export class FileLocks {
  /** Created at the first lock; every lock file is a hard link to it. */
  #holder: Promise<Holder> | undefined;

  constructor(
    readonly files: LockDirectory,
    readonly options: LockTimes,
  ) {}

  /** Runs `work` holding the lock of the record at `path`; when `signal` aborts first, work never starts. */
  async withLock<R>(path: string, work: () => Promise<R>, signal?: AbortSignal): Promise<R> {
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
   * Removes a lock whose owner died (same host, pid gone) or that is older than staleLockAfter;
   * true when the lock is gone. It is renamed aside first and removed only if it is still the
   * lock judged stale; if a competing breaker already replaced it with a fresh one, that fresh
   * lock is put back.
   */
  async breakIfStale(lock: string): Promise<boolean> {
    const content = await readRegularFile(lock);
    if (!content) return true; // released meanwhile: try again at once
    const info = await stat(lock).catch(() => null);
    if (!info) return true;
    if (Date.now() - info.mtimeMs < this.options.staleLockAfter && !ownerIsDead(content.toString("utf8"))) return false;
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

  /**
   * Removes other processes' holder files: at once when their process is dead (this host), else
   * once idle for a minute. A live process whose holder was removed makes a new one at its next lock.
   */
  async collectHolders(): Promise<void> {
    const ours = this.#holder && (await this.#holder.catch(() => undefined))?.path;
    for (const name of (await listIfExists(this.files.dir)).filter((entry) => HOLDER_FILE.test(entry))) {
      const path = join(this.files.dir, name);
      if (path === ours) continue;
      const [content, mtime] = await Promise.all([readRegularFile(path), mtimeOf(path)]);
      if (content === null || mtime === null) continue;
      if (ownerIsDead(content.toString("utf8")) || Date.now() - mtime > IDLE_HOLDER_AGE) await unlinkIfExists(path);
    }
  }

  /**
   * Takes the lock with jittered backoff (1 ms doubling to 64 ms); breaks locks of dead or hung owners.
   * Resolves to the holder linked, whose inode tells at release whether the lock is still ours.
   */
  async #acquire(lock: string, signal?: AbortSignal): Promise<Holder> {
    const deadline = Date.now() + this.options.lockTimeout;
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
      if (await this.breakIfStale(lock)) continue;
      if (Date.now() >= deadline) throw new LockTimeoutError(lock, this.options.lockTimeout);
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
    if (Date.now() - holder.refreshedAt > this.options.staleLockAfter / 4) {
      holder.refreshedAt = Date.now();
      const seconds = holder.refreshedAt / 1000;
      await utimes(holder.path, seconds, seconds).catch((error: unknown) => (code(error) === "ENOENT" ? undefined : Promise.reject(error)));
    }
    return holder;
  }

  async #createHolder(): Promise<Holder> {
    await this.files.ensureRoot();
    const path = join(this.files.dir, `${process.pid}.${randomBytesPooled(6).toString("hex")}.holder`);
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
      await this.files.ensureDir(join(lock, ".."));
      return;
    }
    if (this.#holder !== undefined && (await this.#holder) === holder) this.#holder = undefined;
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

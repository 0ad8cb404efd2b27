/**
 * A FileStore's directory: where each record and owner index entry lives, whether the directory
 * can be trusted, creating it and its sub-directories with mode 0700, and writing a record whole
 * (a temp file in the same directory renamed over the target: POSIX makes the rename atomic, so a
 * process killed at any instant leaves the old file or the new one, never a mix).
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { randomBytesPooled } from "../../core/random.js";
import type { StoredSession } from "../../core/store.js";
import { checkTrusted, closeFd, code, fchmodFd, FILE_MODE, fstatFd, fsyncFd, listIfExists, makeDir, openFd, rename, syncDir, unlinkIfExists, writeAll } from "./fs.js";
import { encodeRecord, KEY_PATTERN } from "./record.js";

const SUB_DIR = /^[0-9a-f]{2}$/;
export const OWNERS_DIR = "owners";

export class SessionDirectory {
  #rootReady: Promise<void> | undefined;
  #trusted: Promise<void> | undefined;
  /** Learned from the first file written (#fixMode): whether the umask narrows new files below 0600. */
  #umaskNarrows: boolean | undefined;

  constructor(
    /** Absolute path of the store's directory. */
    readonly dir: string,
    /** fsync each file and its directory before a write counts as done (FileStoreOptions.fsync). */
    readonly fsync: boolean,
  ) {}

  pathOf(key: string): string {
    if (typeof key !== "string" || !KEY_PATTERN.test(key)) {
      throw new TypeError(`FileStore: a key must match ${KEY_PATTERN} (got ${JSON.stringify(String(key).slice(0, 80))})`);
    }
    const name = createHash("sha256").update(key).digest("hex");
    return join(this.dir, name.slice(0, 2), name);
  }

  ownerDir(owner: string): string {
    if (typeof owner !== "string" || !KEY_PATTERN.test(owner)) {
      throw new TypeError(`FileStore: an owner must match ${KEY_PATTERN} (got ${JSON.stringify(String(owner).slice(0, 80))})`);
    }
    // Hex of the bytes, not the text: reversible, and distinct on file systems that ignore case.
    return join(this.dir, OWNERS_DIR, Buffer.from(owner, "latin1").toString("hex"));
  }

  indexEntryOf(owner: string, key: string): string {
    this.pathOf(key); // validates the key
    return join(this.ownerDir(owner), Buffer.from(key, "latin1").toString("hex"));
  }

  /**
   * Refuses, once, a directory that someone else could write to: they could plant a record (a
   * forged "admin" session) or a lock. It must be owned by this process's user and not writable
   * by group or others. A missing directory is fine (it is created 0700) and checked again later.
   */
  checkTrust(): Promise<void> {
    this.#trusted ??= checkTrusted(this.dir).then(
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

  async subDirs(): Promise<string[]> {
    const names = await listIfExists(this.dir);
    return names.filter((name) => SUB_DIR.test(name)).map((name) => join(this.dir, name));
  }

  /** Creates the root and the sub-directory with mode 0700, whatever the umask. */
  async ensureDir(sub: string): Promise<void> {
    await this.ensureRoot();
    if (join(sub, "..") !== this.dir) await makeDir(join(sub, ".."));
    await makeDir(sub);
  }

  ensureRoot(): Promise<void> {
    this.#rootReady ??= makeDir(this.dir).then(() => this.checkTrust()).catch((error: unknown) => {
      this.#rootReady = undefined;
      throw error;
    });
    return this.#rootReady;
  }

  /** Runs `create` and, if the sub-directory is missing (first write, or gc just removed it), makes it and retries. */
  async inDir<R>(path: string, create: () => Promise<R>): Promise<R> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await create();
      } catch (error) {
        if (code(error) !== "ENOENT" || attempt === 3) throw error;
        await this.ensureDir(join(path, ".."));
      }
    }
  }

  async writeAtomically(path: string, record: StoredSession, signal?: AbortSignal): Promise<void> {
    const temp = `${path}.${process.pid}.${randomBytesPooled(6).toString("hex")}.tmp`;
    const bytes = encodeRecord(record);
    const fd = await this.inDir(path, () => openFd(temp, "wx", FILE_MODE));
    try {
      await this.#fixMode(fd);
      await writeAll(fd, bytes);
      if (this.fsync) await fsyncFd(fd);
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
    if (this.fsync) await syncDir(join(path, ".."));
  }

  /**
   * A umask cannot widen open's 0600, but an odd one (0277, say) could narrow it to unreadable. The
   * first temp file of this store tells; only if it came out wrong is every file chmod-ed after.
   */
  async #fixMode(fd: number): Promise<void> {
    this.#umaskNarrows ??= ((await fstatFd(fd)).mode & 0o777) !== FILE_MODE;
    if (this.#umaskNarrows) await fchmodFd(fd, FILE_MODE);
  }
}

/**
 * FileStore's small file system helpers: "missing" is an answer (null, false, []), every other
 * error is a system failure and is thrown.
 *
 * Node's callback API, promisified, on plain file descriptors rather than node:fs/promises: the
 * latter makes a FileHandle object per open file, and every call here is a trip through libuv's
 * thread pool on the request path (the cost is recorded in bench/README.md).
 */
import * as fs from "node:fs";
import type { Stats } from "node:fs";
import { constants } from "node:fs";
import { promisify } from "node:util";
import { SessionStoreError } from "../../core/errors.js";

export const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
// Reads never follow a symlink (ELOOP) and never block on a FIFO or device.
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
// Below Node's pool threshold (4 KiB), so the buffer of a small file's read is a slice of the pool.
const SMALL_READ_BYTES = 4095;
const SCAN_CONCURRENCY = 32;

const chmod = promisify(fs.chmod);
export const closeFd = promisify(fs.close);
export const fchmodFd = promisify(fs.fchmod);
export const fstatFd = promisify(fs.fstat);
export const fsyncFd = promisify(fs.fsync);
export const link = promisify(fs.link);
export const lstat = promisify(fs.lstat);
const mkdir = promisify(fs.mkdir);
export const openFd = promisify(fs.open);
const readFd = promisify(fs.read);
const readdir = promisify(fs.readdir);
export const rename = promisify(fs.rename);
export const rmdir = promisify(fs.rmdir);
export const stat = promisify(fs.stat);
const unlink = promisify(fs.unlink);
export const utimes = promisify(fs.utimes);
const writeFd = promisify(fs.write);
export const writeFile = promisify(fs.writeFile);

export function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/**
 * The file's first `limit` bytes (default: all of it), or null when it is missing, a symlink, a
 * directory, a socket or a big non-regular file (a FIFO with nothing written reads as empty,
 * which is no session either). A file that fits one pooled buffer, as sessions mostly do, costs
 * open, read and close; a bigger one fstat too, for its size. Files are replaced by rename, never
 * changed in place, so the opened inode keeps its content between the reads.
 */
export async function readRegularFile(path: string, limit = Infinity): Promise<Buffer | null> {
  let fd: number;
  try {
    fd = await openFd(path, READ_FLAGS);
  } catch (error) {
    if (code(error) === "ENOENT" || code(error) === "ELOOP" || code(error) === "ENXIO") return null;
    throw error;
  }
  try {
    const first = Buffer.allocUnsafe(Math.min(SMALL_READ_BYTES, limit));
    // From the current offset (0): a positioned read of a FIFO fails with ESPIPE.
    const { bytesRead } = await readFd(fd, first, 0, first.length, null);
    if (bytesRead < first.length || bytesRead >= limit) return first.subarray(0, bytesRead);
    const info = await fstatFd(fd);
    if (!info.isFile()) return null;
    const size = Math.min(info.size, limit);
    const whole = Buffer.allocUnsafe(size);
    first.copy(whole);
    const { bytesRead: rest } = await readFd(fd, whole, first.length, size - first.length, first.length);
    return whole.subarray(0, first.length + rest);
  } catch (error) {
    // A directory, or a FIFO whose writer has sent nothing: not a session file.
    if (code(error) === "EISDIR" || code(error) === "EAGAIN") return null;
    throw error;
  } finally {
    await closeFd(fd);
  }
}

/** write(2) may take less than asked (a full disk, a signal): goes on until every byte is written. */
export async function writeAll(fd: number, bytes: Buffer): Promise<void> {
  for (let written = 0; written < bytes.length; ) {
    written += (await writeFd(fd, bytes, written, bytes.length - written, written)).bytesWritten;
  }
}

export async function listIfExists(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (code(error) === "ENOENT") return [];
    throw error;
  }
}

export async function unlinkIfExists(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if (code(error) === "ENOENT") return false;
    throw error;
  }
}

export async function lstatIfExists(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (error) {
    if (code(error) === "ENOENT") return null;
    throw error;
  }
}

/** The file's mtime in ms since the epoch, or null when it is missing (or cannot be stat-ed). */
export async function mtimeOf(path: string): Promise<number | null> {
  const info = await stat(path).catch(() => null);
  return info ? info.mtimeMs : null;
}

/** Creates the directory with mode 0700, whatever the umask. */
export async function makeDir(dir: string): Promise<void> {
  try {
    const created = await mkdir(dir, { recursive: true, mode: DIR_MODE });
    if (created !== undefined) await chmod(dir, DIR_MODE); // mkdir's mode is masked by the umask
  } catch (error) {
    // Another instance's gc removed the still-empty directory while it was being made (recursive
    // mkdir stats an existing one; chmod follows mkdir): the caller's create then fails with
    // ENOENT again and makes it anew, as after any gc.
    if (code(error) !== "ENOENT") throw error;
  }
}

export async function syncDir(dir: string): Promise<void> {
  const fd = await openFd(dir, "r");
  try {
    await fsyncFd(fd);
  } finally {
    await closeFd(fd);
  }
}

/**
 * Throws SessionStoreError naming the directory when it is not ours or others can write to it
 * (they could plant a record, a forged "admin" session, or a lock). Resolves false when it does
 * not exist yet (nothing to trust; it is created 0700 on first write).
 */
export async function checkTrusted(dir: string): Promise<boolean> {
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

/** Maps with at most SCAN_CONCURRENCY operations in flight: parallel enough for the disk, far below EMFILE. */
export async function inBatches<T, R>(items: T[], map: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += SCAN_CONCURRENCY) {
    results.push(...(await Promise.all(items.slice(start, start + SCAN_CONCURRENCY).map(map))));
  }
  return results;
}

import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import type { ChildProcess } from "node:child_process";
import type { Dirent } from "node:fs";
import { chmod, chown, lstat, mkdtemp, readdir, readFile, rename, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
// First: the store must load with fs functions this module can hold (see its header).
import type { Gate } from "./support/fs-gate.js";
import { gateNext } from "./support/fs-gate.js";
import { SessionStoreError } from "../src/core/errors.js";
import { SessionManager } from "../src/core/manager.js";
import { PENDING_GRACE_MS } from "../src/core/store.js";
import { FileStore } from "../src/stores/file.js";
import { storeConformance } from "../src/testing/index.js";

const dirs: string[] = [];
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "sessionkit-file-"));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

await storeConformance("FileStore", async () => new FileStore({ dir: await freshDir() }), { test: it });

const LONG = 3_600_000;
const write = (data: string, expectedVersion = 0, expiresAt = Date.now() + LONG) => ({ data, expiresAt, version: expectedVersion + 1, expectedVersion });

/** Every file under `dir` but the lock holder files (`<dir>/<pid>.<random>.holder`, one per store that took a lock). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && !isHolder(dir, e)).map((e) => join(e.parentPath, e.name));
}

/** The lock holder files in `dir`. */
async function holdersIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.filter((e) => isHolder(dir, e)).map((e) => join(dir, e.name));
}

const isHolder = (dir: string, entry: Dirent) => entry.isFile() && entry.parentPath === dir && /^\d+\.[0-9a-f]{12}\.holder$/.test(entry.name);

const WORKER = join(import.meta.dirname, "support", "file-store-worker.ts");

function startWorker(args: string[]): { child: ChildProcess; ready: Promise<void>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ["--import", "tsx", WORKER, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
    child.once("exit", (code) => reject(new Error(`worker exited (${code}) before ready: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => {
    if (code !== 0 && code !== null) console.error(stderr);
    resolve(code);
  }));
  return { child, ready, exited };
}

describe("FileStore", () => {
  it("a listing while a sign-in's index entry is being written (held before its mtime is set) keeps the entry", async () => {
    const store = new FileStore({ dir: await freshDir() });
    const owner = "o".repeat(43);
    const keepUntil = Date.now() + 3_600_000;
    const held = gateNext("utimes", (path) => path.includes("/owners/"));
    const indexing = store.indexOwner(owner, "key-1", keepUntil);
    await held.reached; // the entry file exists; its keep-until is not set yet
    expect(await store.listByOwner(owner)).toEqual([]); // no record yet: listed as nothing, and kept
    held.release();
    await indexing;
    await store.set("key-1", { ...write("x"), owner });
    expect((await store.listByOwner(owner)).map((entry) => entry.key)).toEqual(["key-1"]);
  });

  it("creates its directories 0700 and session files 0600, whatever the umask", async () => {
    const dir = join(await freshDir(), "nested", "sessions");
    const previous = process.umask(0o000);
    try {
      const store = new FileStore({ dir });
      await store.set("abc", write("x"));
      const [file] = await filesUnder(dir);
      expect(file).toBeDefined();
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      expect((await stat(join(file!, ".."))).mode & 0o777).toBe(0o700);
      expect((await stat(file!)).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(previous);
    }
  });

  it("writes session files 0600 under a umask that would narrow them (0277 gives 0400)", async () => {
    const dir = await freshDir();
    const previous = process.umask(0o277);
    try {
      const store = new FileStore({ dir });
      await store.set("first", write("x"));
      await store.set("second", write("y"));
      const files = (await filesUnder(dir)).filter((file) => !file.endsWith(".lock"));
      expect(files).toHaveLength(2);
      for (const file of files) expect((await stat(file)).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(previous);
    }
  });

  it("refuses keys outside [A-Za-z0-9_-]{1,64} before touching the disk", async () => {
    const dir = join(await freshDir(), "untouched");
    const store = new FileStore({ dir });
    for (const key of ["../../etc/passwd", "..", "a/b", "a\\b", "", "x".repeat(65), "a\0b", "é"]) {
      await expect(async () => store.get(key)).rejects.toThrow(TypeError);
      await expect(async () => store.set(key, write("x"))).rejects.toThrow(/key must match/);
      await expect(async () => store.destroy(key)).rejects.toThrow(TypeError);
    }
    await expect(stat(dir)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("names files by a hex hash of the key, spread over two-character sub-directories", async () => {
    const dir = await freshDir();
    const store = new FileStore({ dir });
    await store.set("Ab", write("upper"));
    await store.set("ab", write("lower")); // differ only in case: distinct files even on macOS
    const files = await filesUnder(dir);
    expect(files).toHaveLength(2);
    for (const file of files) expect(file.slice(dir.length)).toMatch(/^\/[0-9a-f]{2}\/[0-9a-f]{64}$/);
    expect((await store.get("Ab"))?.data).toBe("upper");
    expect((await store.get("ab"))?.data).toBe("lower");
  });

  it("treats corrupt or truncated files as not found, never as an error", async () => {
    const dir = await freshDir();
    const store = new FileStore({ dir });
    await store.set("k", write("hello"));
    const [file] = await filesUnder(dir);
    for (const junk of ["", "garbage", "SKF1 1 99999999999999 r 10\nhello", "SKF1 x 1 r 5\nhello", "\u0000".repeat(300)]) {
      await writeFile(file!, junk);
      expect(await store.get("k")).toBeNull();
    }
    expect(await store.set("k", write("again", 0)), "a corrupt record counts as version 0").toBe(true);
    expect((await store.get("k"))?.data).toBe("again");
  });

  it("keeps lone surrogates and every code point byte for byte", async () => {
    const store = new FileStore({ dir: await freshDir() });
    const text = "\uD800 lone \uDFFF, 𝄞, \r\n, \u0000, é";
    await store.set("s", write(text));
    expect((await store.get("s"))?.data).toBe(text);
  });

  it("reports system errors such as EACCES instead of hiding them", async () => {
    if (process.getuid?.() === 0) {
      // root ignores permission bits; a path through a regular file gives a system error too
      const dir = await freshDir();
      await writeFile(join(dir, "file"), "");
      const store = new FileStore({ dir: join(dir, "file", "sessions") });
      await expect(store.set("k", write("x"))).rejects.toMatchObject({ code: "ENOTDIR" });
      return;
    }
    const dir = await freshDir();
    const store = new FileStore({ dir });
    await store.set("k", write("x"));
    const { chmod } = await import("node:fs/promises");
    const [file] = await filesUnder(dir);
    await chmod(file!, 0o000);
    await expect(store.get("k")).rejects.toMatchObject({ code: "EACCES" });
  });

  it("gc removes expired sessions, old temp files, stale locks and empty sub-directories", async () => {
    const dir = await freshDir();
    let now = Date.now();
    const store = new FileStore({ dir, now: () => now });
    await store.set("live", write("x", 0, now + LONG));
    await store.set("dead1", write("x", 0, now + 1000));
    await store.set("dead2", write("x", 0, now + 1000));
    const [liveFile] = await filesUnder(dir);
    const sub = join(liveFile!, "..");
    const oldTemp = join(sub, "x.123.abc.tmp");
    const newTemp = join(sub, "y.123.abc.tmp");
    await writeFile(oldTemp, "partial");
    await writeFile(newTemp, "partial");
    const old = new Date(Date.now() - 120_000);
    await utimes(oldTemp, old, old);
    const staleLock = join(sub, `${"0".repeat(64)}.lock`);
    await writeFile(staleLock, "1 somewhere-else 0 x");
    await utimes(staleLock, old, old);
    const [ours] = await holdersIn(dir); // made by the first set's lock
    const { hostname } = await import("node:os");
    const deadHolder = join(dir, "999999999.000000000000.holder");
    await writeFile(deadHolder, `999999999 ${hostname()} 0 dead`);
    const idleHolder = join(dir, "1.111111111111.holder");
    await writeFile(idleHolder, "1 somewhere-else 0 idle");
    await utimes(idleHolder, old, old);
    const busyHolder = join(dir, "2.222222222222.holder");
    await writeFile(busyHolder, "2 somewhere-else 0 busy");
    now += 2000;
    expect(await store.count()).toBe(1);
    expect(await store.gc()).toBe(2);
    const left = await filesUnder(dir);
    expect(left).not.toContain(oldTemp);
    expect(left).toContain(newTemp); // may belong to a write in progress
    expect(left).not.toContain(staleLock);
    expect((await holdersIn(dir)).sort(), "holders of dead or idle processes are removed").toEqual([busyHolder, ours].sort());
    expect(await store.gc()).toBe(0);
    const subDirs = (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isDirectory());
    expect(subDirs.length, "sub-directories emptied by gc are removed").toBeLessThanOrEqual(2);
    expect(await store.get("live")).not.toBeNull();
  });

  it("a write lands when another instance's gc removes its new sub-directory between the mkdir and the chmod", async () => {
    const dir = await freshDir();
    const writer = new FileStore({ dir });
    const collector = new FileStore({ dir });
    await writer.set("first", write("x")); // makes and trusts the root
    const sub = join(dir, createHash("sha256").update("second").digest("hex").slice(0, 2));
    const chmodOfSub = gateNext("chmod", (path) => String(path) === sub);
    const landing = writer.set("second", write("y"));
    await chmodOfSub.reached;
    await collector.gc(); // the sub-directory is still empty: its rmdir succeeds
    chmodOfSub.release();
    expect(await landing).toBe(true);
    expect((await writer.get("second"))?.data).toBe("y");
  });

  it("breaks a lock left by a dead process at once", async () => {
    const dir = await freshDir();
    const store = new FileStore({ dir, lockTimeout: 2000 });
    await store.set("k", write("v1"));
    const [file] = await filesUnder(dir);
    const { hostname } = await import("node:os");
    await writeFile(`${file}.lock`, `999999999 ${hostname()} ${Date.now()} dead`);
    const started = Date.now();
    expect(await store.set("k", write("v2", 1))).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  /** Holds `store`'s next write inside its lock (get() is the first thing a set does there) until `release` is called. */
  function holdInsideLock(store: FileStore): { inside: Promise<void>; release: () => void } {
    let enter!: () => void;
    let release!: () => void;
    const inside = new Promise<void>((resolve) => (enter = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const read = store.get.bind(store);
    store.get = async (key) => {
      store.get = read;
      enter();
      await released;
      return read(key);
    };
    return { inside, release };
  }

  /** Holds the next breaker of `lock` just before it renames the lock aside. */
  const holdBreakerRename = (lock: string) => gateNext("rename", (from, to) => String(from) === lock && String(to).endsWith(".broken"));

  /**
   * Lets a breaker held by holdBreakerRename go on, waits until it removes what it renamed aside
   * (it is then done with the lock), and resolves to the inode at `lock` then (undefined: no lock).
   */
  async function releaseBreaker(rename: Gate, lock: string): Promise<number | undefined> {
    const cleanup = gateNext("unlink", (path) => String(path).startsWith(`${lock}.`) && String(path).endsWith(".broken"));
    cleanup.release(); // only watched, never held
    rename.release();
    await cleanup.done;
    return (await lstat(lock).catch(() => null))?.ino;
  }

  /** After a forced interleaving: no lock or broken-aside file is left under `dir`. */
  const locksLeft = async (dir: string) => (await filesUnder(dir)).filter((f) => /\.(lock|broken)$/.test(f));

  it("a live process's lock is not judged stale because its holder file is old: the holder's mtime is brought up to date", async () => {
    const dir = await freshDir();
    // staleLockAfter far above the other store's lockTimeout: a loaded machine stalling between
    // the refresh and the other store's look must not make a fresh lock look stale.
    const holder = new FileStore({ dir, staleLockAfter: 2000 });
    await holder.set("k", write("v1")); // creates the holder file
    await new Promise((resolve) => setTimeout(resolve, 2500)); // the holder file is now older than staleLockAfter
    const held = holdInsideLock(holder);
    const pending = holder.set("k", write("v2", 1));
    await held.inside;
    // Another store judges the lock by its mtime (same pid, so "owner dead" cannot apply).
    const other = new FileStore({ dir, staleLockAfter: 2000, lockTimeout: 150 });
    await expect(other.set("k", write("other", 1)), "the lock of a live, active holder is kept").rejects.toThrow(/still held/);
    held.release();
    expect(await pending).toBe(true);
    expect((await holder.get("k"))?.data).toBe("v2");
  });

  it("makes a new holder file when gc or a person removed it, and locks as before", async () => {
    const dir = await freshDir();
    const store = new FileStore({ dir });
    await store.set("k", write("v1"));
    const [first] = await holdersIn(dir);
    await rm(first!);
    expect(await store.set("k", write("v2", 1))).toBe(true);
    expect(await store.set("other", write("x"))).toBe(true);
    const holders = await holdersIn(dir);
    expect(holders).toHaveLength(1);
    expect(holders[0]).not.toBe(first);
    expect((await filesUnder(dir)).filter((f) => f.endsWith(".lock")), "every lock released").toEqual([]);
  });

  it("a holder whose lock was broken and taken over meanwhile leaves the new owner's lock in place", async () => {
    const dir = await freshDir();
    const store = new FileStore({ dir });
    await store.set("k", write("v1"));
    const [file] = await filesUnder(dir);
    const lock = `${file}.lock`;
    const held = holdInsideLock(store);
    const pending = store.set("k", write("v2", 1));
    await held.inside;
    // What a breaker does to a hung holder (rename aside, remove), then another process's fresh lock.
    await rename(lock, `${lock}.aside`);
    await rm(`${lock}.aside`);
    const { hostname } = await import("node:os");
    const stranger = `${process.pid + 1} ${hostname()} ${Date.now()} stranger`;
    await writeFile(lock, stranger);
    held.release();
    expect(await pending).toBe(true);
    expect(await readFile(lock, "utf8"), "the stranger's lock survives our release").toBe(stranger);
    expect((await filesUnder(dir)).filter((f) => f.endsWith(".tmp")), "no temp file is left").toEqual([]);
  });

  it("a breaker that judged a lock stale leaves it in place when its holder took it again before the rename", async () => {
    const dir = await freshDir();
    const staleLockAfter = 2500; // far above any stall between the holder re-taking its lock and the check below
    const holder = new FileStore({ dir, staleLockAfter });
    await holder.set("k", write("v1")); // makes the holder file, whose mtime dates every lock it links
    const [holderFile] = await holdersIn(dir);
    const holderInode = (await lstat(holderFile!)).ino;
    const [file] = await filesUnder(dir);
    const lock = `${file}.lock`;

    // The holder hangs inside its lock until the lock is older than staleLockAfter.
    const hung = holdInsideLock(holder);
    const second = holder.set("k", write("v2", 1));
    await hung.inside;
    await new Promise((resolve) => setTimeout(resolve, staleLockAfter + 300));

    // The breaker judges it stale and is held just before it renames the lock aside.
    const breakerRename = holdBreakerRename(lock);
    const breaker = new FileStore({ dir, staleLockAfter, lockTimeout: 20_000 });
    let breakerDone = false;
    const breakerWrite = breaker.set("k", write("breaker", 1)).finally(() => (breakerDone = true));
    await breakerRename.reached;

    // Meanwhile the holder wakes, finishes, and takes the lock again (its heartbeat renews the mtime).
    hung.release();
    expect(await second).toBe(true);
    // Its queue for "k" empties in the microtasks after that; the next set then skips the
    // early read, so its first get is inside the lock, where holdInsideLock holds it.
    await new Promise((resolve) => setImmediate(resolve));
    const retaken = holdInsideLock(holder);
    const third = holder.set("k", write("v3", 2));
    await retaken.inside;

    // The breaker goes on: the lock it renames is not the one it judged, so it must put it back.
    expect(await releaseBreaker(breakerRename, lock), "the lock is still there, and the holder's").toBe(holderInode);
    expect(breakerDone, "the breaker still waits for the lock").toBe(false);

    retaken.release();
    expect(await third).toBe(true);
    expect(await breakerWrite, "the breaker's write, made against version 1, is refused").toBe(false);
    expect((await holder.get("k"))?.data).toBe("v3");
    expect(await locksLeft(dir)).toEqual([]);
  });

  it("of two breakers of one stale lock, the later one puts back the lock the first took meanwhile", async () => {
    const dir = await freshDir();
    const seed = new FileStore({ dir });
    await seed.set("k", write("v1"));
    const [file] = await filesUnder(dir);
    const lock = `${file}.lock`;
    const old = new Date(Date.now() - 3_600_000);
    await writeFile(lock, "1 somewhere-else 0 hung"); // another host's lock, an hour old: stale
    await utimes(lock, old, old);

    // The second breaker judges it stale first, and is held just before its rename.
    const laterRename = holdBreakerRename(lock);
    const later = new FileStore({ dir, lockTimeout: 20_000 });
    let laterDone = false;
    const laterWrite = later.set("k", write("later", 1)).finally(() => (laterDone = true));
    await laterRename.reached;
    const laterHolder = await holdersIn(dir);

    // The first breaker judges, breaks and takes the lock, and holds it.
    const first = new FileStore({ dir, lockTimeout: 20_000 });
    const held = holdInsideLock(first);
    const firstWrite = first.set("k", write("first", 1));
    await held.inside;
    const [firstHolder] = (await holdersIn(dir)).filter((path) => !laterHolder.includes(path));
    const firstInode = (await lstat(firstHolder!)).ino;

    // The later breaker renames what is now the first one's fresh lock: it must give it back.
    expect(await releaseBreaker(laterRename, lock), "the first breaker's lock is back in place").toBe(firstInode);
    expect(laterDone, "the later breaker still waits for the lock").toBe(false);

    held.release();
    expect(await firstWrite).toBe(true);
    expect(await laterWrite, "the later write, made against version 1, is refused").toBe(false);
    expect((await first.get("k"))?.data).toBe("first");
    expect(await locksLeft(dir)).toEqual([]);
  });

  it("takes lock durations as milliseconds or strings, and refuses any other", () => {
    for (const [option, value] of [["lockTimeout", "soon"], ["lockTimeout", 0], ["staleLockAfter", "-1s"], ["staleLockAfter", Number.NaN]] as const) {
      expect(() => new FileStore({ dir: "unused", [option]: value }), `${option}: ${String(value)}`).toThrow(new RegExp(`"${option}"`));
    }
    expect(() => new FileStore({ dir: "unused", staleLockAfter: "10s", lockTimeout: 4000 })).not.toThrow();
  });

  it("waits for a live lock and fails with a system error after lockTimeout", async () => {
    const dir = await freshDir();
    const store = new FileStore({ dir, lockTimeout: "300ms" });
    await store.set("k", write("v1"));
    const [file] = await filesUnder(dir);
    const { hostname } = await import("node:os");
    await writeFile(`${file}.lock`, `${process.pid} ${hostname()} ${Date.now()} mine`);
    await expect(store.set("k", write("v2", 1))).rejects.toThrow(/still held/);
    expect((await store.get("k"))?.data, "reads take no lock").toBe("v1");
  });

  it("refuses, at first use, a directory that others can write to, naming it and the problem", async () => {
    const dir = await freshDir();
    await chmod(dir, 0o777);
    const store = new FileStore({ dir });
    for (const call of [() => store.get("k"), () => store.set("k", write("x")), () => store.count()]) {
      const error = await call().then(() => expect.fail("an open directory must be refused"), (reason: unknown) => reason);
      expect(error).toBeInstanceOf(SessionStoreError);
      expect((error as Error).message).toBe(`FileStore: refusing ${dir}: mode 0777 lets group or others write to it and plant sessions; run chmod 700 on it`);
    }
    await chmod(dir, 0o700);
    expect(await store.set("k", write("x")), "works once the mode is fixed").toBe(true);
  });

  it.skipIf(process.getuid?.() !== 0)("refuses a directory owned by another user (needs root to make one)", async () => {
    const dir = await freshDir();
    await chown(dir, 65534, 65534);
    const error = await new FileStore({ dir }).get("k").then(() => expect.fail("a foreign directory must be refused"), (reason: unknown) => reason);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as Error).message).toMatch(new RegExp(`^FileStore: refusing ${dir}: it is owned by uid 65534, not by this process \\(uid 0\\)`));
  });

  it("does not follow a symlink planted where a session file goes", async () => {
    const dir = await freshDir();
    const store = new FileStore({ dir });
    await store.set("victim", write("real"));
    const [file] = await filesUnder(dir);
    const forged = join(await freshDir(), "forged");
    await writeFile(forged, `SKF1 1 ${Date.now() + LONG} r 16\n{"user":"admin"}`);
    await rm(file!);
    await symlink(forged, file!);
    expect(await store.get("victim"), "a symlink is not a session").toBeNull();
    expect(await store.count()).toBe(0);
  });

  it("skips a FIFO named like a session file: get, count and gc neither hang nor fail", async () => {
    const dir = await freshDir();
    const store = new FileStore({ dir });
    await store.set("live", write("x"));
    const [file] = await filesUnder(dir);
    await store.set("fifo", write("x"));
    const fifoFile = (await filesUnder(dir)).find((path) => path !== file)!;
    await rm(fifoFile);
    execFileSync("mkfifo", [fifoFile]);
    for (const digit of "0123") execFileSync("mkfifo", [join(file!, "..", digit.repeat(64))]); // as in the review: four of them
    expect(await store.get("fifo")).toBeNull();
    expect(await store.count()).toBe(1);
    expect(await store.gc()).toBe(0);
    expect(await store.get("live")).not.toBeNull();
  });

  it("stops waiting for the lock when the call's signal aborts, so the write never lands later", async () => {
    const dir = await freshDir();
    const store = new FileStore({ dir, lockTimeout: 10_000 });
    await store.set("k", write("v1"));
    const [file] = await filesUnder(dir);
    const { hostname } = await import("node:os");
    await writeFile(`${file}.lock`, `${process.pid} ${hostname()} ${Date.now()} held-by-the-test`);
    const controller = new AbortController();
    const pending = store.set("k", write("late", 1), { signal: controller.signal });
    const queued = store.touch("k", Date.now() + 2 * LONG, { signal: controller.signal }); // waits in the in-process queue
    controller.abort(new Error("storeTimeout"));
    await expect(pending).rejects.toThrow("storeTimeout");
    await expect(queued).rejects.toThrow("storeTimeout");
    await rm(`${file}.lock`);
    expect(await store.set("k", write("v2", 1)), "the lock is free and the record unchanged").toBe(true);
    expect((await store.get("k"))?.data).toBe("v2");
  });

  it("a commit that hit storeTimeout while the lock was held never lands after the lock is freed", async () => {
    const dir = await freshDir();
    const store = new FileStore({ dir, lockTimeout: 10_000 });
    const sessions = new SessionManager<Record<string, unknown>>({ store, storeTimeout: "300ms", gcInterval: 0 });
    const first = await sessions.load();
    first.set("step", 1);
    const token = /^sid=([^;]*)/.exec((await sessions.commit(first))[0]!)![1]!;
    const session = await sessions.load(token);
    session.set("step", 2);
    const [file] = await filesUnder(dir);
    const { hostname } = await import("node:os");
    await writeFile(`${file}.lock`, `${process.pid} ${hostname()} ${Date.now()} held-by-the-test`);
    await expect(sessions.commit(session)).rejects.toBeInstanceOf(SessionStoreError);
    await rm(`${file}.lock`);
    await new Promise((resolve) => setTimeout(resolve, 300)); // longer than a lock retry: a late write would land now
    expect((await sessions.load(token)).get("step")).toBe(1);
    await sessions.close();
  });

  it("keeps an owner index of empty files (mtime = keepUntil); listing and gc drop foreign entries, and missing records' entries after keepUntil", async () => {
    const dir = await freshDir();
    let now = Date.now();
    const store = new FileStore({ dir, now: () => now });
    const owner = "alice_ALICE-0";
    const keepUntil = now + LONG;
    const owned = (who: string) => ({ ...write("x", 0, now + 60_000), owner: who });
    await store.indexOwner(owner, "kept", keepUntil);
    await store.set("kept", owned(owner));
    await store.indexOwner(owner, "kept", keepUntil - 1000); // never lowers keepUntil
    await store.indexOwner(owner, "gone", keepUntil);
    await store.set("gone", owned(owner));
    await store.destroy("gone");
    await store.indexOwner(owner, "in-flight", keepUntil); // its record is being written
    await store.indexOwner(owner, "foreign", keepUntil);
    await store.set("foreign", owned("bob"));
    const entries = join(dir, "owners", Buffer.from(owner).toString("hex"));
    const entryOf = (key: string) => join(entries, Buffer.from(key).toString("hex"));
    expect((await stat(entryOf("kept"))).size).toBe(0);
    expect((await stat(entryOf("kept"))).mtimeMs).toBe(Math.ceil(keepUntil / 1000) * 1000);
    expect((await stat(entries)).mode & 0o777).toBe(0o700);

    expect((await store.listByOwner(owner)).map((entry) => entry.key)).toEqual(["kept"]);
    expect(await store.gc()).toBe(0);
    const names = async () => (await readdir(entries)).map((name) => Buffer.from(name, "hex").toString()).sort();
    expect(await names(), "missing records keep their entries for a minute (a sign-in in flight)").toEqual(["gone", "in-flight", "kept"]);
    await store.destroy("kept");
    now = keepUntil + 1000;
    await store.gc();
    expect(await readdir(join(dir, "owners")), "an emptied owner directory goes too").toEqual([]);
  });

  it("one gc() drops an index entry whose record never came once it is a minute old (a sign-in killed between the two)", async () => {
    const dir = await freshDir();
    const store = new FileStore({ dir });
    await store.indexOwner("alice", "crashed", Date.now() + LONG);
    await store.gc();
    expect(await readdir(join(dir, "owners")), "kept while its sign-in may still write the record").toHaveLength(1);
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now() + PENDING_GRACE_MS + 1000);
      await store.gc();
    } finally {
      vi.useRealTimers();
    }
    expect(await readdir(join(dir, "owners")), "the entry and its emptied owner directory are gone").toEqual([]);
  });

  it("the owner index holds only live sessions: logout, rotation and revocation remove their entry files", async () => {
    const dir = await freshDir();
    const sessions = new SessionManager({ store: new FileStore({ dir }), gcInterval: 0 });
    const tokenOf = (cookies: string[]) => /^sid=([^;]*)/.exec(cookies[0]!)![1]!;
    const tokens: string[] = [];
    for (let i = 0; i < 4; i++) {
      const session = await sessions.load();
      await session.signIn("alice");
      tokens.push(tokenOf(await sessions.commit(session)));
    }
    const logout = await sessions.load(tokens[0]);
    await logout.destroy();
    await sessions.commit(logout);
    const rotated = await sessions.load(tokens[1]);
    await rotated.regenerate();
    await sessions.commit(rotated);
    const [ownerDir] = await readdir(join(dir, "owners"));
    const entries = () => readdir(join(dir, "owners", ownerDir!));
    expect(await entries(), "one entry per live session").toHaveLength(3);
    await sessions.revokeUser("alice", { except: rotated });
    expect(await entries()).toHaveLength(1);
    await sessions.close();
  });

  it("leaves only whole files when a writer is SIGKILLed at random moments", async () => {
    const dir = await freshDir();
    const keys = ["k1", "k2", "k3"];
    for (let round = 0; round < 10; round++) {
      const worker = startWorker(["rewrite", dir, keys.join(",")]);
      await worker.ready;
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 180));
      worker.child.kill("SIGKILL");
      await worker.exited;
    }
    const store = new FileStore({ dir, lockTimeout: 2000 });
    for (const key of keys) {
      const record = await store.get(key);
      expect(record, `${key} loads after the kills`).not.toBeNull();
      const match = /^(k\d):(\d+):((?:é🌍x)+):end:(\d+)$/u.exec(record!.data);
      expect(match, `${key} is a whole payload`).not.toBeNull();
      expect(match![1]).toBe(key);
      expect(match![2]).toBe(match![4]);
      expect(match![3]!.length / 4).toBe(20_000 + (Number(match![2]) % 7) * 10_000);
      // a lock left by a killed writer does not block the next write
      expect(await store.set(key, write("after", record!.version))).toBe(true);
    }
    // A writer killed mid-write leaves a .tmp; one killed while breaking a dead writer's lock leaves
    // the lock it set aside (.broken). gc removes both once they are old; age them.
    const leftovers = (await filesUnder(dir)).filter((f) => f.endsWith(".tmp") || f.endsWith(".broken"));
    const old = new Date(Date.now() - 120_000);
    for (const temp of leftovers) await utimes(temp, old, old);
    expect(await store.gc()).toBe(0);
    const after = await filesUnder(dir);
    expect(after.filter((f) => /\.(tmp|lock|broken)$/.test(f))).toEqual([]);
    expect(after).toHaveLength(keys.length);
    expect(await holdersIn(dir), "only this process's holder is left: the killed writers' are collected").toHaveLength(1);
    console.info(`FileStore kill test: ${leftovers.length} orphan temp or set-aside lock file(s) left by 10 SIGKILLs, all collected`);
  }, 120_000);

  it("loses no update when 4 processes commit distinct keys to one session at once", async () => {
    const dir = await freshDir();
    const store = new FileStore({ dir });
    const sessions = new SessionManager<Record<string, unknown>>({ store, gcInterval: 0 });
    const first = await sessions.load();
    first.set("start", true);
    const token = /^sid=([^;]*)/.exec((await sessions.commit(first))[0]!)![1]!;
    const perWorker = 15;
    const workers = [0, 1, 2, 3].map((i) => startWorker(["commit", dir, token, String(i), String(perWorker)]));
    await Promise.all(workers.map((w) => w.ready));
    const started = Date.now();
    for (const w of workers) w.child.stdin!.write("go\n");
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0, 0, 0]);
    const elapsed = Date.now() - started;
    const final = await sessions.load(token);
    expect(final.get("start")).toBe(true);
    for (let w = 0; w < 4; w++) for (let i = 0; i < perWorker; i++) expect(final.get(`w${w}-${i}`), `w${w}-${i}`).toBe(i);
    expect(final.keys()).toHaveLength(1 + 4 * perWorker);
    console.info(`FileStore: ${4 * perWorker} commits from 4 processes on one session in ${elapsed} ms`);
    await sessions.close();
  }, 60_000);
});

/**
 * PostgresStore when its server dies: a private PostgreSQL instance (initdb into a temp dir,
 * own port, own socket dir) is crashed with `pg_ctl stop -m immediate` (every server process
 * quits at once, no checkpoint: crash recovery on restart) and started again on the same port
 * and data directory. The shared server on 5432 is never touched.
 */
import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionManager, SessionStoreError } from "../src/index.js";
import { PostgresStore } from "../src/stores/postgres.js";
import { freePort } from "./support/servers.js";

const run = promisify(execFile);
const binDir = findPostgresBin();
const test = binDir ? it : it.skip;
if (!binDir) {
  const message = "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (set POSTGRES_BIN)";
  if (process.env.CI === "true") throw new Error(`${message} (CI=true: a missing server fails the run)`);
  console.warn(`\n!!! SKIPPING the PostgreSQL fault tests: ${message}.\n`);
}

function findPostgresBin(): string | undefined {
  if (process.env.POSTGRES_BIN) return process.env.POSTGRES_BIN;
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((name) => existsSync(join(root, name, "bin", "initdb")));
  versions.sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], "bin");
}

/** PostgreSQL refuses to run as root, so under root its tools run as the `postgres` OS user. */
async function pgTool(tool: string, args: string[]): Promise<void> {
  const command = join(binDir!, tool);
  if (userInfo().uid === 0) await run("runuser", ["-u", "postgres", "--", command, ...args]);
  else await run(command, args);
}

class PrivatePostgres {
  readonly dir = mkdtempSync(join(tmpdir(), "sessionkit-pg-"));
  readonly data = join(this.dir, "data");
  port = 0;

  async init(): Promise<void> {
    if (userInfo().uid === 0) {
      const { stdout } = await run("id", ["-u", "postgres"]);
      const { stdout: gid } = await run("id", ["-g", "postgres"]);
      chownSync(this.dir, Number(stdout), Number(gid));
    }
    this.port = await freePort();
    await pgTool("initdb", ["-D", this.data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  }

  start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`;
    return pgTool("pg_ctl", ["-D", this.data, "-o", options, "-l", join(this.dir, "log"), "-w", "start"]);
  }

  /** Every server process quits at once, as in a crash: no shutdown checkpoint. */
  crash(): Promise<void> {
    return pgTool("pg_ctl", ["-D", this.data, "-m", "immediate", "-w", "stop"]);
  }

  async remove(): Promise<void> {
    await this.crash().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }
}

const tokenOf = (cookies: string[]) => /^sid=([^;]*)/.exec(cookies[0] ?? "")![1]!;

/** How long `promise` took to reject, and with what. */
async function rejection(promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  const error = await promise.then(
    () => expect.fail("expected a rejection"),
    (reason: unknown) => reason,
  );
  return { error, ms: performance.now() - started };
}

describe("PostgresStore when the server crashes and comes back", () => {
  const server = new PrivatePostgres();
  let store: PostgresStore;
  let sessions: SessionManager;

  beforeAll(async () => {
    if (!binDir) return;
    await server.init();
    await server.start();
    store = new PostgresStore({ connectionString: server.url });
    sessions = new SessionManager({ store, storeTimeout: "1s", gcInterval: 0 });
  });

  afterAll(async () => {
    await sessions?.close();
    await store?.close();
    await server.remove();
  });

  test("load and commit fail fast with SessionStoreError while it is down, then work again on the same store", async () => {
    const first = await sessions.load();
    first.set("user", "ada");
    const token = tokenOf(await sessions.commit(first)); // acknowledged before the crash
    const inFlight = await sessions.load(token);
    inFlight.set("step", 2);

    await server.crash();

    const loadFailure = await rejection(sessions.load(token));
    expect(loadFailure.error).toBeInstanceOf(SessionStoreError);
    expect(loadFailure.error).toMatchObject({ code: "ERR_SESSION_STORE" });
    expect((loadFailure.error as Error).cause).toBeDefined();
    expect(loadFailure.ms).toBeLessThan(2_500); // storeTimeout 1s plus slack, never a hang

    const commitFailure = await rejection(sessions.commit(inFlight));
    expect(commitFailure.error).toBeInstanceOf(SessionStoreError);
    expect(commitFailure.error).toMatchObject({ code: "ERR_SESSION_STORE" });
    expect(commitFailure.ms).toBeLessThan(2_500);

    await server.start();

    const recovered = await sessions.load(token);
    expect(recovered.isNew).toBe(false);
    expect(recovered.get("user")).toBe("ada"); // the acknowledged commit survived the crash
    recovered.set("step", 3);
    await sessions.commit(recovered);
    expect((await sessions.load(token)).get("step")).toBe(3);
  });
});

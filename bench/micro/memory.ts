/**
 * Heap bytes per session held by an in-process store, for N sessions of a 200-byte payload.
 * Each store is measured in its own process started with --expose-gc:
 *   heapUsed after gc, with N sessions stored  -  heapUsed after gc, store empty   ) / N
 * Sessions are created the way each library creates them (sessionkit: through the manager;
 * express-session stores: store.set(sid, session-with-cookie) as express-session calls it).
 *   npx tsx bench/micro/memory.ts [--quick] [--json]
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { MemoryStore, SessionManager } from "../../dist/index.js";
import { importAs } from "../lib.js";

export type MemoryContestant = "sessionkit MemoryStore" | "express-session MemoryStore" | "memorystore";
export const MEMORY_CONTESTANTS: MemoryContestant[] = ["sessionkit MemoryStore", "express-session MemoryStore", "memorystore"];
export const PAYLOAD_BYTES = 200;

export interface MemoryResult {
  store: MemoryContestant;
  sessions: number;
  bytesPerSession: number;
}

type Callback = (error?: unknown) => void;
interface PeerStore {
  set(sid: string, session: object, callback: Callback): void;
  stopInterval?(): void;
}
interface ExpressSession {
  MemoryStore: new () => PeerStore;
  Cookie: new (options: object) => object;
}

const payload = () => randomBytes(150).toString("base64"); // 200 ASCII characters, distinct per session

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with node --expose-gc");
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

async function fillSessionkit(count: number): Promise<object> {
  const manager = new SessionManager({ store: new MemoryStore() });
  for (let i = 0; i < count; i++) {
    const session = await manager.load();
    session.set("payload", payload());
    await manager.commit(session);
  }
  return manager;
}

async function fillPeer(count: number, kind: MemoryContestant): Promise<object> {
  const session = (await importAs<{ default: ExpressSession }>("express-session")).default;
  let store: PeerStore;
  if (kind === "memorystore") {
    const factory = (await importAs<{ default: (s: ExpressSession) => new (options: object) => PeerStore }>("memorystore")).default;
    store = new (factory(session))({ checkPeriod: 86_400_000 });
    store.stopInterval?.();
  } else {
    store = new session.MemoryStore();
  }
  const cookieOptions = { httpOnly: true, sameSite: "lax", secure: false, maxAge: 30 * 60 * 1000 };
  for (let i = 0; i < count; i++) {
    // express-session's ids: uid-safe(24), 32 base64url characters.
    const sid = randomBytes(24).toString("base64url");
    await new Promise<void>((resolve, reject) =>
      store.set(sid, { cookie: new session.Cookie(cookieOptions), payload: payload() }, (error) => (error ? reject(error) : resolve())),
    );
  }
  return store;
}

async function measureHere(kind: MemoryContestant, count: number): Promise<MemoryResult> {
  const fill = kind === "sessionkit MemoryStore" ? fillSessionkit : (n: number) => fillPeer(n, kind);
  await fill(10); // load the modules and warm their code paths before the baseline
  const before = heapAfterGc();
  const kept = await fill(count);
  const after = heapAfterGc();
  if (!kept) throw new Error("unreachable");
  return { store: kind, sessions: count, bytesPerSession: (after - before) / count };
}

/** Measures every store, each in a fresh process. */
export function runMemoryMicro(count: number): MemoryResult[] {
  const self = fileURLToPath(import.meta.url);
  return MEMORY_CONTESTANTS.map((kind) => {
    const output = execFileSync(process.execPath, ["--expose-gc", "--import", "tsx", self, "--child", kind, String(count)], { encoding: "utf8" });
    return JSON.parse(output.trim().split("\n").at(-1)!) as MemoryResult;
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const childAt = process.argv.indexOf("--child");
  if (childAt > 0) {
    const result = await measureHere(process.argv[childAt + 1] as MemoryContestant, Number(process.argv[childAt + 2]));
    console.log(JSON.stringify(result));
  } else {
    const results = runMemoryMicro(process.argv.includes("--quick") ? 20_000 : 100_000);
    if (process.argv.includes("--json")) console.log(JSON.stringify(results));
    else for (const r of results) console.log(`${r.store}: ${r.bytesPerSession.toFixed(0)} bytes/session (${r.sessions} sessions)`);
  }
}

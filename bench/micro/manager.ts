/**
 * The per-request cost of the manager itself, with MemoryStore and no HTTP:
 *   read path  = load(token) + get + commit   (what GET /read costs sessionkit)
 *   write path = load(token) + get + set + commit (what GET /write costs sessionkit)
 * Each measured call runs the path over BATCH distinct sessions, so the timer's resolution
 * and overhead are spread over BATCH operations; the figure reported is per operation.
 * Both paths run again with a no-op subscriber on every sessionkit diagnostics channel: what the
 * channels cost once someone listens (without one, the plain paths are the figure).
 *   npx tsx bench/micro/manager.ts [--quick] [--json]
 */
import diagnostics from "node:diagnostics_channel";
import { Bench } from "tinybench";
import { MemoryStore, SESSIONKIT_CHANNELS, SessionManager } from "../../dist/index.js";

export interface MicroResult {
  name: string;
  nsPerOp: number;
  opsPerSecond: number;
  /** Relative margin of error of the mean, in percent. */
  rme: number;
  samples: number;
}

const BATCH = 100;

async function seededManager(): Promise<{ manager: SessionManager; tokens: string[] }> {
  const manager = new SessionManager({ store: new MemoryStore() });
  const tokens: string[] = [];
  for (let i = 0; i < BATCH; i++) {
    const session = await manager.load();
    session.set("user", `user-${i}`);
    session.set("count", 0);
    await manager.commit(session);
    tokens.push(session.id);
  }
  return { manager, tokens };
}

const ignore = () => {};
const tracing = Object.entries(SESSIONKIT_CHANNELS).filter(([key]) => key !== "ended").map(([, name]) => diagnostics.tracingChannel(name));
const everyEvent = { start: ignore, end: ignore, asyncStart: ignore, asyncEnd: ignore, error: ignore };

/** Subscribed for one task only (its warm-up and its run), so the other tasks run with no one listening. */
const subscribed = {
  beforeAll: () => {
    for (const channel of tracing) channel.subscribe(everyEvent);
    diagnostics.subscribe(SESSIONKIT_CHANNELS.ended, ignore);
  },
  afterAll: () => {
    for (const channel of tracing) channel.unsubscribe(everyEvent);
    diagnostics.unsubscribe(SESSIONKIT_CHANNELS.ended, ignore);
  },
};

export async function runManagerMicro(quick: boolean): Promise<MicroResult[]> {
  const { manager, tokens } = await seededManager();
  const bench = new Bench({ time: quick ? 300 : 2000, warmupTime: quick ? 100 : 500 });
  const readPath = async () => {
    for (const token of tokens) {
      const session = await manager.load(token);
      session.get("count");
      await manager.commit(session);
    }
  };
  const writePath = async () => {
    for (const token of tokens) {
      const session = await manager.load(token);
      session.set("count", (session.get("count") as number) + 1);
      await manager.commit(session);
    }
  };
  bench.add("read path: load + get + commit", readPath);
  bench.add("write path: load + get + set + commit", writePath);
  bench.add("read path, every channel subscribed (no-op)", readPath, subscribed);
  bench.add("write path, every channel subscribed (no-op)", writePath, subscribed);
  await bench.run();
  return bench.tasks.map((task) => {
    const result = task.result;
    if (result.state !== "completed") throw new Error(`micro benchmark "${task.name}" ended ${result.state}`);
    const nsPerOp = (result.period * 1e6) / BATCH;
    return { name: task.name, nsPerOp, opsPerSecond: 1e9 / nsPerOp, rme: result.latency.rme, samples: result.latency.samplesCount };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await runManagerMicro(process.argv.includes("--quick"));
  if (process.argv.includes("--json")) console.log(JSON.stringify(results));
  else for (const r of results) console.log(`${r.name}: ${r.nsPerOp.toFixed(0)} ns/op (±${r.rme.toFixed(1)}%, ${r.samples} samples of ${BATCH} ops)`);
}

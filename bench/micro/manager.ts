/**
 * The per-request cost of the manager itself, with MemoryStore and no HTTP:
 *   read path  = load(token) + get + commit   (what GET /read costs sessionkit)
 *   write path = load(token) + get + set + commit (what GET /write costs sessionkit)
 * Each measured call runs the path over BATCH distinct sessions, so the timer's resolution
 * and overhead are spread over BATCH operations; the figure reported is per operation.
 *   npx tsx bench/micro/manager.ts [--quick] [--json]
 */
import { Bench } from "tinybench";
import { MemoryStore, SessionManager } from "../../dist/index.js";

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

export async function runManagerMicro(quick: boolean): Promise<MicroResult[]> {
  const { manager, tokens } = await seededManager();
  const bench = new Bench({ time: quick ? 300 : 2000, warmupTime: quick ? 100 : 500 });
  bench.add("read path: load + get + commit", async () => {
    for (const token of tokens) {
      const session = await manager.load(token);
      session.get("count");
      await manager.commit(session);
    }
  });
  bench.add("write path: load + get + set + commit", async () => {
    for (const token of tokens) {
      const session = await manager.load(token);
      session.set("count", (session.get("count") as number) + 1);
      await manager.commit(session);
    }
  });
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

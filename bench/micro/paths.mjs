/**
 * The manager's read or write path (as bench/micro/manager.ts runs it) in a plain process, for
 * counting instructions under callgrind against a given build ("Tracing channels" in bench/README.md):
 *   valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file=/dev/null \
 *     node bench/micro/paths.mjs <checkout with dist/> <read|write> <loops of 100 operations> [subscribed]
 * 10,000 operations warm up first; the difference of two runs with different loop counts is the
 * cost of the operations between them. `subscribed`: a no-op subscriber on every sessionkit channel.
 */
import diagnostics from "node:diagnostics_channel";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [checkout = ".", mode = "read", loopsText = "0", subscribed] = process.argv.slice(2);
const sessionkit = await import(pathToFileURL(resolve(checkout, "dist", "index.js")).href);
if (subscribed === "subscribed") {
  const ignore = () => {};
  for (const [key, name] of Object.entries(sessionkit.SESSIONKIT_CHANNELS)) {
    if (key === "ended") diagnostics.subscribe(name, ignore);
    else diagnostics.tracingChannel(name).subscribe({ start: ignore, end: ignore, asyncStart: ignore, asyncEnd: ignore, error: ignore });
  }
}
const manager = new sessionkit.SessionManager({ store: new sessionkit.MemoryStore() });
const tokens = [];
for (let i = 0; i < 100; i++) {
  const session = await manager.load();
  session.set("user", `user-${i}`);
  session.set("count", 0);
  await manager.commit(session);
  tokens.push(session.id);
}

async function run(loops) {
  for (let loop = 0; loop < loops; loop++) {
    for (const token of tokens) {
      const session = await manager.load(token);
      if (mode === "write") session.set("count", session.get("count") + 1);
      else session.get("count");
      await manager.commit(session);
    }
  }
}

await run(100);
await run(Number(loopsText));

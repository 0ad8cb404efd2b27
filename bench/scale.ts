/**
 * `npm run bench:scale` (issue 30): what sessionkit costs as the work grows. Runs each part as a
 * child process, one after another (each writes bench/results/scale/<part>.json), then draws one
 * SVG per curve. Options (passed on to every part):
 *
 *   --parts live,gc,users,files      default all (a part whose script is missing is skipped)
 *   --sizes 10000,100000,1000000     live sessions to grow to
 *   --stores memory,file,redis,...   default every reachable one
 *   --large-stores redis,postgres    these also go to --large-size (default 10,000,000)
 *   --smoke                          CI: N = 10k only, short runs, under a minute
 *   --out DIR                        results and charts elsewhere than bench/results/scale
 *   --merge                          keep the earlier live.json rows of the stores not measured now
 *
 * Method and results: bench/README.md, "Scale".
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./lib.js";
import { writeCharts } from "./scale/chart.js";
import { parseOptions } from "./scale/lib.js";

const args = process.argv.slice(2);
const options = parseOptions(args);
let failed = false;
for (const part of options.parts) {
  const script = join(REPO_ROOT, "bench", "scale", `${part}.ts`);
  if (!existsSync(script)) {
    console.error(`[scale] part "${part}": ${script} does not exist, skipped`);
    continue;
  }
  console.error(`[scale] part "${part}"`);
  // --expose-gc: heap per session; the heap limit: a million in-memory sessions plus their peers'.
  const child = spawnSync(process.execPath, ["--expose-gc", "--max-old-space-size=6144", "--import", "tsx", script, ...args], {
    stdio: "inherit",
    cwd: REPO_ROOT,
    // The gc, users and files parts take the results folder from the environment.
    env: { ...process.env, SCALE_RESULTS_DIR: options.out },
  });
  if (child.status !== 0) {
    console.error(`[scale] part "${part}" failed (exit ${child.status ?? child.signal})`);
    failed = true;
  }
}
for (const path of writeCharts(options.out)) console.error(`[scale] chart: ${path}`);
process.exitCode = failed ? 1 : 0;

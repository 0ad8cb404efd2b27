/**
 * `npm run fuzz [-- --requests N --seed S]`: the CI fuzz test (test/fuzz.test.ts) at length.
 * Mutated Cookie headers (fast-check, fixed seed) through one real Express server with signed
 * ids + express-session migration on /signed and the cookie store on /sealed. Progress goes to
 * stderr; the summary to stdout. Exits 1 if any answer was not 2xx or anything threw.
 */
import { parseArgs } from "node:util";
import { runFuzz, sampledCases, startFuzzServer } from "../test/support/fuzz.js";

const { values } = parseArgs({ options: { requests: { type: "string", default: "200000" }, seed: { type: "string", default: "20261129" } } });
const requests = Number(values.requests);
const seed = Number(values.seed);
if (!Number.isInteger(requests) || requests <= 0 || !Number.isInteger(seed)) {
  console.error("usage: npm run fuzz -- [--requests N] [--seed S]");
  process.exit(2);
}

const server = await startFuzzServer();
const started = performance.now();
const cpu = process.cpuUsage();
const result = await runFuzz(server, sampledCases(server.seeds, seed, requests), undefined, (done) => {
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(`fuzz: ${done.toLocaleString("en")} / ${requests.toLocaleString("en")} requests, ${seconds.toFixed(0)} s\n`);
});
const seconds = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
await server.close();

const statuses = [...result.statuses].map(([status, count]) => `${status}: ${count.toLocaleString("en")}`).join(", ");
console.log(`seed ${seed}: ${result.requests.toLocaleString("en")} requests in ${seconds.toFixed(1)} s (${Math.round(result.requests / seconds).toLocaleString("en")} req/s)`);
console.log(`process CPU ${((used.user + used.system) / 1e6).toFixed(1)} s (${((used.user + used.system) / result.requests).toFixed(0)} µs per request, client and server together)`);
console.log(`statuses: ${statuses}; errors and uncaught exceptions: ${server.errors.length}`);
const { reached } = server;
console.log(`existing sessions loaded: ${reached.signed.toLocaleString("en")} signed, ${reached.sealed.toLocaleString("en")} sealed; legacy sessions migrated: ${reached.migrated}`);
for (const failure of result.failures) console.log(`not 2xx: ${failure.status} ${failure.path} cookie: ${JSON.stringify(failure.cookie)}`);
for (const error of server.errors.slice(0, 10)) console.log("error:", error);
process.exitCode = result.failures.length === 0 && server.errors.length === 0 && result.requests === requests ? 0 : 1;

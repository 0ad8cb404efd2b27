/**
 * 20,000 mutated Cookie headers (fast-check, fixed seed) through one real Express server with
 * signing, express-session migration and the cookie store mounted: every answer is 2xx and
 * nothing throws uncaught. The longer run is `npm run fuzz` (bench/fuzz.ts).
 */
import { expect, it } from "vitest";
import { runFuzz, sampledCases, startFuzzServer } from "./support/fuzz.js";

const SEED = 20261129;
const REQUESTS = 20_000;

it(`answers ${REQUESTS} mutated Cookie headers with 2xx, signed, migrating and sealed routes alike`, async () => {
  const server = await startFuzzServer();
  try {
    const result = await runFuzz(server, sampledCases(server.seeds, SEED, REQUESTS));
    expect(result.requests).toBe(REQUESTS);
    expect(result.failures, JSON.stringify(result.failures.slice(0, 3))).toEqual([]);
    expect([...result.statuses.keys()]).toEqual([200]);
    expect(server.errors).toEqual([]);
    // Not only rejections: mutations that keep a cookie intact load real sessions and migrate legacy ones.
    expect(server.reached.signed).toBeGreaterThan(100);
    expect(server.reached.sealed).toBeGreaterThan(100);
    expect(server.reached.migrated).toBeGreaterThan(10);
  } finally {
    await server.close();
  }
}, 120_000);

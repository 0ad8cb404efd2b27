import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { MemoryStore } from "../src/index.js";
import { conformanceCases } from "../src/testing/index.js";

it("storeConformance registers and passes every case under node:test as well", async () => {
  const fixture = join(import.meta.dirname, "fixtures", "memory-conformance.node-test.mjs");
  const { stdout } = await promisify(execFile)(process.execPath, ["--test", "--test-reporter=tap", fixture], { env: { ...process.env, VITEST: "" } });
  // Every case of the suite, however many it has grown to (the fixture imports the built package).
  const cases = conformanceCases(() => new MemoryStore()).length;
  expect(cases).toBeGreaterThanOrEqual(30);
  expect(stdout).toMatch(new RegExp(`^# tests ${cases}$`, "m"));
  // MemoryStore keeps its owner index inside set(), so the case about indexOwner() is reported as
  // skipped (node:test's own skip), never as a pass; every other case passes.
  expect(stdout).toMatch(/# SKIP the store has no indexOwner\(\)/);
  expect(stdout).toMatch(new RegExp(`^# pass ${cases - 1}$`, "m"));
  expect(stdout).toMatch(/^# skipped 1$/m);
  expect(stdout).toMatch(/^# fail 0$/m);
});

import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";

it("storeConformance registers and passes every case under node:test as well", async () => {
  const fixture = join(import.meta.dirname, "fixtures", "memory-conformance.node-test.mjs");
  const { stdout } = await promisify(execFile)(process.execPath, ["--test", "--test-reporter=tap", fixture], { env: { ...process.env, VITEST: "" } });
  expect(stdout).toMatch(/^# tests 10$/m);
  expect(stdout).toMatch(/^# pass 10$/m);
  expect(stdout).toMatch(/^# fail 0$/m);
});

import { expect, it } from "vitest";
import { Progress } from "../bench/progress.js";

it("names each step of the total and estimates the time left from the steps done", () => {
  let clock = 0;
  const lines: string[] = [];
  const progress = new Progress(4, "bench", () => clock, (line) => lines.push(line));
  progress.step("round 1/2: sk-redis-express");
  clock = 30_000;
  progress.step("round 1/2: es-redis-express");
  clock = 60_000;
  progress.step("round 2/2: sk-redis-express");
  expect(lines).toEqual([
    "[bench 1/4] round 1/2: sk-redis-express\n",
    "[bench 2/4] round 1/2: es-redis-express · about 1 min 30 s left\n",
    "[bench 3/4] round 2/2: sk-redis-express · about 1 min 0 s left\n",
  ]);
});

/**
 * One set of guarantees everywhere (issue 27): every case of cases.ts against every in-process
 * target of targets.ts, through a real server on 127.0.0.1 and fetch. The built framework apps
 * (Next.js, React Router, SvelteKit, Nuxt) prove the same guarantees in their own suites, named
 * in matrix.ts; the matrix in docs/adapters.md is rendered from these lists and checked here.
 */
import { readFile, writeFile } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { SessionManager } from "../../src/core/manager.js";
import type { SessionEventType } from "../../src/core/events.js";
import type { Data } from "./app.js";
import { FailingStore } from "./app.js";
import { cases } from "./cases.js";
import type { CaseContext } from "./cases.js";
import { builtApps, missingProofs, renderMatrix, replaceMatrix } from "./matrix.js";
import type { RunningApp } from "./targets.js";
import { targets } from "./targets.js";

let running: RunningApp | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

describe.each(targets)("$name", (target) => {
  for (const guarantee of cases) {
    const reason = target.skip?.[guarantee.id];
    it.skipIf(reason !== undefined)(guarantee.title + (reason ? ` (skipped: ${reason})` : ""), async () => {
      const store = new FailingStore();
      const events: SessionEventType[] = [];
      const manager = new SessionManager<Data>({ store, gcInterval: 0, onEvent: (event) => void events.push(event.type), ...guarantee.options });
      running = await target.start(manager, []);
      const base = running.url;
      const request: CaseContext["request"] = (method, path, options = {}) =>
        fetch(base + path, { method, headers: { ...options.headers, ...(options.cookie ? { cookie: options.cookie } : {}) } });
      await guarantee.run({ request, store, events });
    });
  }
});

describe("the matrix in docs/adapters.md", () => {
  it("every built app's proof names a test that still exists in its file", async () => {
    expect(await missingProofs(builtApps, cases.map((c) => c.id))).toEqual([]);
  });

  it("is the rendering of the case and target lists (UPDATE_MATRIX=1 writes it)", async () => {
    const path = new URL("../../docs/adapters.md", import.meta.url);
    const doc = await readFile(path, "utf8");
    const table = renderMatrix(cases, targets, builtApps);
    const updated = replaceMatrix(doc, table);
    if (process.env.UPDATE_MATRIX === "1" && updated !== doc) await writeFile(path, updated);
    else expect(doc, `docs/adapters.md's matrix is stale: run UPDATE_MATRIX=1 npx vitest run test/adapters/guarantees.test.ts, or paste:\n${table}`).toBe(updated);
  });
});

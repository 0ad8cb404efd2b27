/**
 * The store conformance suite. A store author runs it under Vitest or node:test:
 *
 *   import { storeConformance } from "sessionkit/testing";
 *   await storeConformance("MyStore", () => new MyStore({ ... }));
 *
 * Each case gets a fresh store from the factory, which must start empty (own table, prefix
 * or directory), and closes it afterwards (or calls `cleanup`). Assertions use node:assert,
 * so the suite needs nothing from the test runner but a way to register tests.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ConformanceCase, ConformanceOptions, StoreFactory, TestContext } from "./harness.js";
import { LONG, harness, sleep } from "./harness.js";
import { edgeCases } from "./edge-cases.js";
import { storeContractCases } from "./store-cases.js";
import { authCases } from "./auth-cases.js";
import { finalityCases } from "./finality-cases.js";
import { renewalCases } from "./renewal-cases.js";
import { userCases } from "./user-cases.js";

export type { ConformanceCase, ConformanceOptions, StoreFactory, TestContext } from "./harness.js";
export { GatedStore } from "./gate.js";
export type { Gate } from "./gate.js";

/** Registers every case of the store contract as a test; also resolves to the list of cases. */
export async function storeConformance(
  nameOrFactory: string | StoreFactory,
  factoryOrOptions?: StoreFactory | ConformanceOptions,
  maybeOptions: ConformanceOptions = {},
): Promise<ConformanceCase[]> {
  const name = typeof nameOrFactory === "string" ? nameOrFactory : "store";
  const factory = typeof nameOrFactory === "function" ? nameOrFactory : (factoryOrOptions as StoreFactory);
  const options = (typeof nameOrFactory === "function" ? factoryOrOptions : maybeOptions) as ConformanceOptions | undefined ?? {};
  if (typeof factory !== "function") throw new TypeError("storeConformance needs a factory: () => SessionStore");
  const cases = conformanceCases(factory, options);
  // Registration is synchronous whenever the runner can be reached synchronously, so an
  // un-awaited call at the top of a test file works too.
  const register = options.test ?? globalTest() ?? requiredTest() ?? (await importedTest());
  for (const c of cases) register(`${name} conformance: ${c.name}`, c.run);
  return cases;
}

type Register = (name: string, run: (context?: TestContext) => Promise<void>) => void;

function globalTest(): Register | undefined {
  const g = globalThis as { it?: Register; test?: Register };
  return g.it ?? g.test;
}

/** The runner's `test`, loaded synchronously: node:test always; Vitest through require(esm) (Node 20.19+). */
function requiredTest(): Register | undefined {
  try {
    const require = createRequire(import.meta.url);
    if (!process.env.VITEST) return (require("node:test") as { test: Register }).test;
    // Vitest's "require" export only throws, so its ESM entry is required by path.
    const manifest = require.resolve("vitest/package.json", { paths: [process.cwd(), dirname(fileURLToPath(import.meta.url))] });
    const { exports } = JSON.parse(readFileSync(manifest, "utf8")) as { exports: { ".": { import: string | { default: string } } } };
    const entry = exports["."].import;
    return (require(join(dirname(manifest), typeof entry === "string" ? entry : entry.default)) as { test: Register }).test;
  } catch {
    return undefined; // older Node or an unusual layout: fall back to a dynamic import
  }
}

async function importedTest(): Promise<Register> {
  if (process.env.VITEST) return (await import("vitest")).test as unknown as Register;
  return (await import("node:test")).test as unknown as Register;
}

export function conformanceCases(factory: StoreFactory, options: ConformanceOptions = {}): ConformanceCase[] {
  const { withStore, write, manager, tokenOf, short } = harness(factory, options);
  return [
    {
      name: "write, read and destroy",
      run: withStore(async (store) => {
        const expiresAt = Date.now() + LONG;
        assert.equal(await store.get("missing-key"), null, "an unknown key is not found, not an error");
        assert.equal(await store.set("key-1", write('{"a":1}', expiresAt)), true);
        const found = await store.get("key-1");
        assert.ok(found, "a written record loads");
        assert.equal(found.data, '{"a":1}');
        assert.equal(found.version, 1);
        assert.ok(Math.abs(found.expiresAt - expiresAt) < 1000, "expiresAt round-trips to the second");
        await store.destroy("key-1");
        assert.equal(await store.get("key-1"), null, "a destroyed record is gone");
        await store.destroy("key-1"); // destroying a missing key is not an error
      }),
    },
    {
      name: "writes are compare-and-set on the version",
      run: withStore(async (store) => {
        const expiresAt = Date.now() + LONG;
        assert.equal(await store.set("k", write("v1", expiresAt, 0)), true);
        assert.equal(await store.set("k", write("other", expiresAt, 0)), false, "expected 0 fails when a live record exists");
        assert.equal(await store.set("k", write("v2", expiresAt, 1)), true);
        assert.equal(await store.set("k", write("stale", expiresAt, 1)), false, "a stale version fails");
        assert.equal(await store.set("absent", write("x", expiresAt, 5)), false, "a version on a missing key fails");
        const found = await store.get("k");
        assert.equal(found?.data, "v2");
        assert.equal(found?.version, 2);
        assert.equal(await store.get("absent"), null);
      }),
    },
    {
      name: "a record past its expiry never loads, even before gc",
      run: withStore(async (store) => {
        assert.equal(await store.set("soon", write("x", Date.now() + short)), true);
        assert.ok(await store.get("soon"), "loads before expiry");
        await sleep(short * 2);
        assert.equal(await store.get("soon"), null, "does not load after expiry");
        assert.equal(await store.set("soon", write("y", Date.now() + LONG, 0)), true, "an expired record counts as version 0");
        assert.equal((await store.get("soon"))?.data, "y");
      }),
    },
    {
      name: "touch extends a live record without changing data or version, and never creates one",
      run: withStore(async (store, skip) => {
        if (!store.touch) return skip("the store has no touch()");
        await store.set("t", write("data", Date.now() + short));
        const later = Date.now() + LONG;
        await store.touch("t", later);
        await sleep(short * 2);
        const found = await store.get("t");
        assert.ok(found, "a touched record outlives its old expiry");
        assert.equal(found.data, "data");
        assert.equal(found.version, 1);
        assert.ok(Math.abs(found.expiresAt - later) < 1000);
        await store.touch("never-written", later);
        assert.equal(await store.get("never-written"), null);
      }),
    },
    {
      name: "count and gc figures are exact",
      run: withStore(async (store, skip) => {
        if (!store.count && !store.gc) return skip("the store has neither count() nor gc()");
        for (let i = 0; i < 3; i++) await store.set(`live-${i}`, write("x", Date.now() + LONG));
        for (let i = 0; i < 2; i++) await store.set(`dead-${i}`, write("x", Date.now() + short));
        if (store.count) assert.equal(await store.count(), 5);
        await sleep(short * 2);
        if (store.count) assert.equal(await store.count(), 3, "count ignores expired records");
        if (store.gc) {
          assert.equal(await store.gc(), 2, "gc reports the expired records it removed");
          assert.equal(await store.gc(), 0);
          assert.ok(await store.get("live-0"), "gc keeps live records");
        }
      }),
    },
    {
      name: "regenerate leaves exactly one live record, under the new id",
      run: withStore(async (store) => {
        const sessions = manager(store);
        const session = await sessions.load();
        session.set("user", "ada");
        const oldToken = tokenOf(await sessions.commit(session));
        await session.regenerate();
        const newToken = tokenOf(await sessions.commit(session));
        assert.notEqual(newToken, oldToken);
        assert.equal((await sessions.load(oldToken)).isNew, true, "the old id loads nothing");
        assert.equal((await sessions.load(newToken)).get("user"), "ada");
        if (store.count) assert.equal(await store.count(), 1);
        await sessions.close();
      }),
    },
    {
      name: "50 overlapping commits on one session, each setting a distinct key, all persist",
      run: withStore(async (store) => {
        const sessions = manager(store);
        const first = await sessions.load();
        first.set("start", true);
        const token = tokenOf(await sessions.commit(first));
        await Promise.all(
          Array.from({ length: 50 }, async (_, i) => {
            const session = await sessions.load(token);
            session.set(`key${i}`, i);
            await sessions.commit(session);
          }),
        );
        const final = await sessions.load(token);
        for (let i = 0; i < 50; i++) assert.equal(final.get(`key${i}`), i, `key${i} persisted`);
        assert.equal(final.get("start"), true);
        await sessions.close();
      }),
    },
    {
      name: "a session destroyed by one request is not revived by a slower one",
      run: withStore(async (store) => {
        const sessions = manager(store);
        const first = await sessions.load();
        first.set("user", "ada");
        const token = tokenOf(await sessions.commit(first));
        const fast = await sessions.load(token);
        const slow = await sessions.load(token);
        await fast.destroy();
        await sessions.commit(fast);
        slow.set("late", 1);
        await sessions.commit(slow);
        const after = await sessions.load(token);
        assert.equal(after.isNew, true, "the destroyed session stays destroyed");
        assert.equal(after.get("user"), undefined);
        await sessions.close();
      }),
    },
    {
      name: "a 1 MiB payload and unicode round-trip byte for byte",
      run: withStore(async (store) => {
        const unicode = "héllo wörld — 日本語 — 🌍👩‍👩‍👧 — \u0000\u2028 — \"quotes\" \\ ";
        const big = unicode + "x".repeat(1024 * 1024);
        await store.set("big", write(big, Date.now() + LONG));
        assert.equal((await store.get("big"))?.data, big);
        const sessions = manager(store);
        const session = await sessions.load();
        session.set("text", unicode);
        session.set("when", new Date(0));
        const token = tokenOf(await sessions.commit(session));
        const loaded = await sessions.load(token);
        assert.equal(loaded.get("text"), unicode);
        assert.deepEqual(loaded.get("when"), new Date(0));
        await sessions.close();
      }),
    },
    {
      name: "SQL and shell metacharacters in keys and values are plain data",
      run: withStore(async (store) => {
        const hostile = ["'; DROP TABLE sessions; --", "$(rm -rf /)", "`reboot`", "../../etc/passwd", "%s%n", "\\' OR 1=1 --", "*", "{x}"];
        const sessions = manager(store);
        const session = await sessions.load();
        for (const text of hostile) session.set(text, text);
        const token = tokenOf(await sessions.commit(session));
        const loaded = await sessions.load(token);
        for (const text of hostile) assert.equal(loaded.get(text), text);
        const raw = hostile.join("|");
        await store.set("plain-key", write(raw, Date.now() + LONG));
        assert.equal((await store.get("plain-key"))?.data, raw);
        await sessions.close();
      }),
    },
    ...storeContractCases(factory, options),
    ...edgeCases(factory, options),
    ...userCases(factory, options),
    ...finalityCases(factory, options),
    ...authCases(factory, options),
    ...renewalCases(factory, options),
  ];
}

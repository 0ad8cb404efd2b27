/**
 * Conformance cases that talk to the store directly (no manager): the sentences of the store
 * contract about monotonic expiry and owners (src/core/store.ts). `conformanceCases` includes them.
 */
import assert from "node:assert/strict";
import { ownerOf } from "../core/envelope.js";
import type { SessionStore, SessionWrite, StoredSession } from "../core/store.js";
import type { ConformanceCase, ConformanceOptions, StoreFactory } from "./harness.js";
import { LONG, harness, sleep } from "./harness.js";


function write(data: string, expiresAt: number, expectedVersion = 0, owner?: string): SessionWrite {
  return { data, expiresAt, version: expectedVersion + 1, expectedVersion, ...(owner === undefined ? {} : { owner }) };
}

/** Writes `key` with `owner` the way the manager does: the index entry first, then the record. */
async function writeOwned(store: SessionStore, key: string, owner: string, expiresAt: number, expectedVersion = 0): Promise<void> {
  await store.indexOwner?.(owner, key, expiresAt);
  assert.equal(await store.set(key, write(`data of ${key}`, expiresAt, expectedVersion, owner)), true, `${key} is written`);
}

const near = (actual: number | undefined, expected: number, message: string) =>
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1000, `${message} (got ${String(actual)}, expected about ${expected})`);

export function storeContractCases(factory: StoreFactory, options: ConformanceOptions = {}): ConformanceCase[] {
  const { withStore, short } = harness(factory, options);

  return [
    {
      name: "set never lowers a live record's expiry",
      run: withStore(async (store) => {
        const later = Date.now() + LONG;
        assert.equal(await store.set("k", write("v1", later)), true);
        assert.equal(await store.set("k", write("v2", Date.now() + short, 1)), true, "a write with an earlier expiry still applies");
        await sleep(short * 2);
        const found = await store.get("k");
        assert.ok(found, "the record keeps the later expiry it already had");
        assert.equal(found.data, "v2", "the data of the write is stored");
        assert.equal(found.version, 2);
        near(found.expiresAt, later, "expiresAt is max(stored, written)");
        const latest = Date.now() + 2 * LONG;
        assert.equal(await store.set("k", write("v3", latest, 2)), true);
        near((await store.get("k"))?.expiresAt, latest, "a later expiry is taken");
      }),
    },
    {
      name: "touch never lowers a live record's expiry",
      run: withStore(async (store, skip) => {
        if (!store.touch) return skip("the store has no touch()");
        const later = Date.now() + LONG;
        await store.set("t", write("data", later));
        await store.touch("t", Date.now() + short);
        await sleep(short * 2);
        const found = await store.get("t");
        assert.ok(found, "an earlier touch does not shorten the record's life");
        near(found.expiresAt, later, "expiresAt is max(stored, touched)");
        assert.equal(found.version, 1);
        assert.equal(found.data, "data");
      }),
    },
    {
      name: "the owner round-trips through set and get, and a write without owner clears it",
      run: withStore(async (store, skip) => {
        if (!store.listByOwner) return skip("the store has no listByOwner(): owners are not supported");
        const alice = ownerOf("alice");
        const expiresAt = Date.now() + LONG;
        await writeOwned(store, "k", alice, expiresAt);
        assert.equal((await store.get("k"))?.owner, alice);
        assert.equal(await store.set("k", write("anonymous again", expiresAt, 1)), true);
        const cleared = await store.get("k");
        assert.equal(cleared?.data, "anonymous again");
        assert.equal(cleared?.owner, undefined, "a write without owner stores none");
        assert.deepEqual(await store.listByOwner(alice), []);
      }),
    },
    {
      name: "listByOwner returns exactly the live records of that owner, with their keys",
      run: withStore(async (store, skip) => {
        if (!store.listByOwner) return skip("the store has no listByOwner()");
        const [alice, bob, carol] = ["alice", "bob", "carol"].map(ownerOf) as [string, string, string];
        const expiresAt = Date.now() + LONG;
        await writeOwned(store, "a-live-1", alice, expiresAt);
        await writeOwned(store, "a-live-2", alice, expiresAt);
        await store.indexOwner?.(alice, "a-live-2", expiresAt); // indexing twice is harmless
        await writeOwned(store, "a-expiring", alice, Date.now() + short);
        await writeOwned(store, "a-destroyed", alice, expiresAt);
        await store.destroy("a-destroyed");
        await writeOwned(store, "a-then-bob", alice, expiresAt);
        await writeOwned(store, "a-then-bob", bob, expiresAt, 1);
        await writeOwned(store, "a-then-anonymous", alice, expiresAt);
        assert.equal(await store.set("a-then-anonymous", write("anonymous", expiresAt, 1)), true);
        await writeOwned(store, "b-live", bob, expiresAt);
        await store.indexOwner?.(alice, "a-never-written", expiresAt); // the manager died before the set
        assert.equal(await store.set("anonymous", write("x", expiresAt)), true);
        await sleep(short * 2);

        const listed = async (owner: string) => (await store.listByOwner!(owner)).sort((a, b) => a.key.localeCompare(b.key));
        const aliceSessions = await listed(alice);
        assert.deepEqual(aliceSessions.map((entry) => entry.key), ["a-live-1", "a-live-2"]);
        const first = aliceSessions[0]!.record;
        assert.deepEqual(pick(first), { data: "data of a-live-1", version: 1, owner: alice });
        near(first.expiresAt, expiresAt, "the listed record carries its expiry");
        assert.deepEqual((await listed(bob)).map((entry) => entry.key), ["a-then-bob", "b-live"]);
        assert.deepEqual(await store.listByOwner(carol), [], "an owner with no sessions lists []");
        assert.deepEqual((await listed(alice)).map((entry) => entry.key), ["a-live-1", "a-live-2"], "listing twice gives the same answer");
      }),
    },
  ];
}

function pick(record: StoredSession): Omit<StoredSession, "expiresAt"> {
  return { data: record.data, version: record.version, owner: record.owner };
}

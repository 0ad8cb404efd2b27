/**
 * The edges of "no lost update" and "logout is final": regenerate, clear, expiry and conflicts.
 * Each interleaving is forced by holding one store call on a GatedStore barrier, never by sleeps.
 */
import assert from "node:assert/strict";
import { SessionConflictError } from "../core/errors.js";
import { hashToken } from "../core/ids.js";
import type { Session } from "../core/session.js";
import type { SessionStore, SessionWrite } from "../core/store.js";
import { GatedStore } from "./gate.js";
import type { ConformanceCase, ConformanceOptions, StoreFactory } from "./harness.js";
import { harness, sleep } from "./harness.js";

/** The compare-and-set that retires the old record of a rotation (its text is "-"). */
const retiring = (_key: string, write?: SessionWrite) => write?.data === "-";

export function edgeCases(factory: StoreFactory, options: ConformanceOptions): ConformanceCase[] {
  const { withStore, manager, tokenOf, short } = harness(factory, options);

  /** A stored session with `data`, and its token. */
  const seeded = async (sessions: ReturnType<typeof manager>, data: Record<string, unknown>) => {
    const session = await sessions.load();
    for (const [key, value] of Object.entries(data)) session.set(key, value);
    return tokenOf(await sessions.commit(session));
  };

  /**
   * Two requests on one stored session: `rotator`'s regenerate is parked on the barrier after it
   * wrote the new record and before it retires the old id; `finish()` releases it.
   */
  const rotationHeld = async (store: SessionStore, beforeRotation?: (rotator: Session<Record<string, unknown>>) => void) => {
    const gated = new GatedStore(store);
    const sessions = manager(gated);
    const token = await seeded(sessions, { user: "ada" });
    const rotator = await sessions.load(token);
    const other = await sessions.load(token);
    beforeRotation?.(rotator);
    const gate = gated.hold("set", retiring);
    const rotating = rotator.regenerate();
    await gate.reached;
    const finish = async () => {
      gate.release();
      await rotating;
    };
    return { sessions, token, rotator, other, finish };
  };

  return [
    {
      name: "logout is final: A destroys and commits, then B (loaded before) regenerates and commits",
      run: withStore(async (store) => {
        const sessions = manager(store);
        const token = await seeded(sessions, { user: "ada", role: "admin" });
        const a = await sessions.load(token);
        const b = await sessions.load(token);
        await a.destroy();
        assert.match((await sessions.commit(a))[0] ?? "", /Max-Age=0/, "the logout expires the cookie");
        await b.regenerate();
        assert.equal(b.destroyed, true, "B learns the session is gone");
        assert.equal(b.superseded, true);
        assert.deepEqual(await sessions.commit(b), [], "B sends no cookie: neither a new id nor an expiry");
        assert.equal((await sessions.load(token)).isNew, true, "the old id stays dead");
        assert.equal(b.get("role"), undefined, "B keeps no data that could be written elsewhere");
        if (store.count) assert.equal(await store.count(), 0, "no record survives under any id");
        await sessions.close();
      }),
    },
    {
      name: "logout is final: A's destroy lands while B's regenerate holds before retiring the old id",
      run: withStore(async (store) => {
        const { sessions, rotator: b, other: a, finish } = await rotationHeld(store);
        await a.destroy();
        await sessions.commit(a);
        await finish();
        assert.equal(b.superseded, true, "B's rotation lost to the logout");
        assert.deepEqual(await sessions.commit(b), []);
        assert.equal((await sessions.load(b.id)).isNew, true, "B's new id was removed");
        if (store.count) assert.equal(await store.count(), 0);
        await sessions.close();
      }),
    },
    {
      name: "two concurrent regenerates leave exactly one live id",
      run: withStore(async (store) => {
        const { sessions, token, rotator: first, other: second, finish } = await rotationHeld(store);
        await second.regenerate();
        const secondToken = tokenOf(await sessions.commit(second));
        await finish();
        assert.equal(first.superseded, true, "the later rotation learns it lost");
        assert.deepEqual(await sessions.commit(first), []);
        assert.equal((await sessions.load(secondToken)).get("user"), "ada");
        assert.equal((await sessions.load(first.id)).isNew, true);
        assert.equal((await sessions.load(token)).isNew, true);
        if (store.count) assert.equal(await store.count(), 1, "one live id");
        await sessions.close();
      }),
    },
    {
      name: "a key B commits while A's regenerate holds is carried into the new record",
      run: withStore(async (store) => {
        const { sessions, token, rotator: a, other: b, finish } = await rotationHeld(store, (a) => a.set("theme", "dark"));
        b.set("cart", ["book"]);
        await sessions.commit(b);
        assert.equal(b.superseded, false);
        await finish();
        const newToken = tokenOf(await sessions.commit(a));
        const loaded = await sessions.load(newToken);
        assert.deepEqual(loaded.get("cart"), ["book"], "B's change survived the rotation");
        assert.equal(loaded.get("theme"), "dark", "A's own change is there too");
        assert.equal((await sessions.load(token)).isNew, true, "the old id loads nothing");
        if (store.count) assert.equal(await store.count(), 1);
        await sessions.close();
      }),
    },
    {
      name: "B commits after A's regenerate: B learns it (superseded, no cookie), never a silent success",
      run: withStore(async (store) => {
        const sessions = manager(store);
        const token = await seeded(sessions, { user: "ada" });
        const a = await sessions.load(token);
        const b = await sessions.load(token);
        await a.regenerate();
        const newToken = tokenOf(await sessions.commit(a));
        b.set("cart", ["book"]);
        assert.deepEqual(await sessions.commit(b), [], "no Set-Cookie from the stale request");
        assert.equal(b.superseded, true);
        assert.equal(b.destroyed, true);
        assert.equal((await sessions.load(token)).isNew, true, "the old id is not revived");
        assert.equal((await sessions.load(newToken)).get("user"), "ada");
        if (store.count) assert.equal(await store.count(), 1);
        await sessions.close();
      }),
    },
    {
      name: "clear() removes the keys that request saw; a key written concurrently survives",
      run: withStore(async (store) => {
        const sessions = manager(store);
        const token = await seeded(sessions, { seen: 1 });
        const a = await sessions.load(token);
        const b = await sessions.load(token);
        b.set("concurrent", 2);
        await sessions.commit(b);
        a.clear();
        await sessions.commit(a);
        const loaded = await sessions.load(token);
        assert.equal(loaded.get("seen"), undefined, "the seen key is gone");
        assert.equal(loaded.get("concurrent"), 2, "the unseen key survives");
        await sessions.close();
      }),
    },
    {
      name: "clear() after destroy() does not revive the destroyed id",
      run: withStore(async (store) => {
        const sessions = manager(store);
        const token = await seeded(sessions, { user: "ada" });
        const s = await sessions.load(token);
        s.clear();
        await s.destroy();
        s.clear();
        await sessions.commit(s);
        assert.equal((await sessions.load(token)).isNew, true);
        if (store.count) assert.equal(await store.count(), 0);
        await sessions.close();
      }),
    },
    {
      name: "a write onto a record that expired meanwhile ends superseded, with no cookie",
      run: withStore(async (store) => {
        const sessions = manager(store, { idleTimeout: short });
        const token = await seeded(sessions, { user: "ada" });
        const s = await sessions.load(token);
        await sleep(short * 2);
        s.set("late", true);
        assert.deepEqual(await sessions.commit(s), []);
        assert.equal(s.superseded, true, "the app can tell the change was not stored");
        assert.equal((await sessions.load(token)).isNew, true, "nothing was revived");
        await sessions.close();
      }),
    },
    {
      name: "expiry never moves backwards: a commit computed on a slower clock keeps the later expiry",
      run: withStore(async (store) => {
        const ahead = manager(store, { now: () => Date.now() + 60_000 });
        const behind = manager(store);
        const token = await seeded(behind, { n: 0 });
        const fast = await ahead.load(token);
        const slow = await behind.load(token);
        fast.set("fast", 1);
        await ahead.commit(fast);
        const key = hashToken(token);
        const later = (await store.get(key))?.expiresAt ?? assert.fail("the record is stored");
        slow.set("slow", 1);
        await behind.commit(slow);
        const record = (await store.get(key)) ?? assert.fail("the record is still stored");
        assert.ok(record.expiresAt >= later - 1000, "the slow commit did not shorten the stored expiry");
        const loaded = await behind.load(token);
        assert.equal(loaded.get("fast"), 1);
        assert.equal(loaded.get("slow"), 1);
        await ahead.close();
        await behind.close();
      }),
    },
    {
      name: "150 concurrent writers on one session: each key persists or its commit rejects with SessionConflictError",
      run: withStore(async (store) => {
        const sessions = manager(store);
        const token = await seeded(sessions, { start: true });
        const outcomes = await Promise.all(
          Array.from({ length: 150 }, async (_, i) => {
            const session = await sessions.load(token);
            session.set(`key${i}`, i);
            try {
              await sessions.commit(session);
              return "stored";
            } catch (error) {
              if (error instanceof SessionConflictError) return "conflict";
              throw error;
            }
          }),
        );
        const final = await sessions.load(token);
        outcomes.forEach((outcome, i) => {
          if (outcome === "stored") assert.equal(final.get(`key${i}`), i, `key${i} was acknowledged, so it must persist`);
        });
        assert.equal(final.get("start"), true);
        await sessions.close();
      }),
    },
  ];
}


/**
 * Renewal with a grace window (options `renewInterval`, `renewGrace`) on every store: requests in
 * flight with the previous id keep working and writing, the id before that is dead. The cases
 * move the manager's clock, never the store's: records stay live for the store throughout.
 * And the end of a session by timeout: gc's "expired" event on the stores that collect.
 */
import assert from "node:assert/strict";
import type { SessionStore } from "../core/store.js";
import type { ConformanceCase, ConformanceOptions, StoreFactory } from "./harness.js";
import type { SessionEvent } from "../core/events.js";
import { harness, sleep } from "./harness.js";
import { GatedStore } from "./gate.js";

const USER = "ada@example.com";
const MINUTE = 60_000;

export function renewalCases(factory: StoreFactory, options: ConformanceOptions): ConformanceCase[] {
  const { withStore, manager, tokenOf, short } = harness(factory, options);
  /** A manager renewing every 15 minutes, on a clock the case moves forward. */
  const renewing = (store: SessionStore) => {
    const clock = { skew: 0 };
    const sessions = manager(store, { renewInterval: "15m", renewGrace: "5m", now: () => Date.now() + clock.skew });
    return { sessions, clock };
  };
  return [
    {
      name: 'gc() that removed expired sessions emits one "expired" event with their count',
      run: withStore(async (store, skip) => {
        if (!store.gc) return skip("the store has no gc(): it expires records natively");
        const events: SessionEvent[] = [];
        const sessions = manager(store, { idleTimeout: short, onEvent: (event) => events.push(event) });
        for (let i = 0; i < 2; i++) {
          const session = await sessions.load();
          session.set("i", i);
          await sessions.commit(session);
        }
        await sleep(short * 2);
        assert.equal(await sessions.gc(), 2);
        assert.deepEqual(
          events.filter((event) => event.type === "expired").map(({ handle, count }) => ({ handle, count })),
          [{ handle: "", count: 2 }],
        );
        assert.equal(await sessions.gc(), 0);
        assert.equal(events.filter((event) => event.type === "expired").length, 1, "a run that removed nothing is silent");
        await sessions.close();
      }),
    },
    {
      name: "renewal: 20 requests in flight with the previous id across a renewal all persist, every response carries the current cookie",
      run: withStore(async (store) => {
        const { sessions, clock } = renewing(store);
        const first = await sessions.load();
        first.set("start", true);
        if (store.listByOwner) await first.signIn(USER);
        const token = tokenOf(await sessions.commit(first));
        clock.skew += 16 * MINUTE;
        const inFlight = await Promise.all(Array.from({ length: 20 }, () => sessions.load(token)));
        const renewer = await sessions.load(token);
        const current = tokenOf(await sessions.commit(renewer));
        assert.notEqual(current, token, "the renewing response sends a new id");
        const cookies = await Promise.all(
          inFlight.map(async (session, i) => {
            session.set(`key${i}`, i);
            return sessions.commit(session);
          }),
        );
        for (const [i, session] of inFlight.entries()) assert.equal(session.superseded, false, `request ${i} was not superseded`);
        for (const sent of cookies) assert.equal(tokenOf(sent), current, "each response carries the current cookie");
        const final = await sessions.load(current);
        for (let i = 0; i < 20; i++) assert.equal(final.get(`key${i}`), i, `key${i} persisted`);
        assert.equal(final.get("start"), true);
        if (store.listByOwner) assert.equal((await sessions.listSessions(USER)).length, 1, "one session listed");
        assert.equal((await sessions.load(token)).get("key7"), 7, "the previous id loads the current session");
        await sessions.close();
      }),
    },
    {
      name: "renewal: two requests renew at once, the first held before its forward: one new id, both writes kept, the loser's id forwards to it",
      run: withStore(async (store) => {
        const gated = new GatedStore(store);
        const { sessions, clock } = renewing(gated);
        const created = await sessions.load();
        created.set("start", true);
        const token = tokenOf(await sessions.commit(created));
        clock.skew += 16 * MINUTE;
        const first = await sessions.load(token);
        const second = await sessions.load(token);
        const held = gated.hold("set", (_key, write) => write?.data.startsWith(">") === true);
        first.set("a", 1);
        const firstCommit = sessions.prepareCommit(first); // as a streamed response: its headers may go out now
        const streamedCookie = tokenOf(firstCommit.headers.map(([, value]) => value));
        await held.reached; // its new record is written, the previous id not yet a forward
        second.set("b", 2);
        const winner = tokenOf(await sessions.commit(second));
        held.release();
        await firstCommit.persisted;
        assert.equal(tokenOf(firstCommit.headers.map(([, value]) => value)), winner, "the request that lost the race joins the winner's id");
        assert.equal(first.superseded, false);
        const current = await sessions.load(winner);
        assert.deepEqual([current.get("start"), current.get("a"), current.get("b")], [true, 1, 2], "no write lost");
        assert.equal((await sessions.load(streamedCookie)).get("a"), 1, "a response that sent the loser's new id already still finds the session");
        if (store.count) assert.equal(await store.count(), 3, "the current record and two forwards (the previous id, the loser's id)");
        await sessions.close();
      }),
    },
    {
      name: "renewal: the id before the previous one is dead, within its grace too",
      run: withStore(async (store) => {
        const { sessions, clock } = renewing(store);
        const created = await sessions.load();
        created.set("a", 1);
        const first = tokenOf(await sessions.commit(created));
        clock.skew += 16 * MINUTE;
        const second = tokenOf(await sessions.commit(await sessions.load(first)));
        clock.skew += 16 * MINUTE;
        const stale = await sessions.load(second); // loaded just before the second renewal
        const third = tokenOf(await sessions.commit(await sessions.load(second)));
        assert.equal((await sessions.load(third)).get("a"), 1);
        assert.equal((await sessions.load(second)).get("a"), 1, "the previous id loads");
        assert.equal((await sessions.load(first)).isNew, true, "the one before it does not");
        stale.set("b", 2);
        assert.equal(tokenOf(await sessions.commit(stale)), third, "a request in flight with the previous id writes to the current record");
        assert.equal((await sessions.load(third)).get("b"), 2);
        clock.skew += 6 * MINUTE;
        assert.equal((await sessions.load(second)).isNew, true, "after renewGrace the previous id is dead");
        await sessions.close();
      }),
    },
  ];
}

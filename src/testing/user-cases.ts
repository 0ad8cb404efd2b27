/**
 * Per-user sessions (signIn, listSessions, revokeSession, revokeUser, the cap), held to the
 * same rules as the rest: hashed at rest, logout final, races forced on a GatedStore barrier.
 */
import assert from "node:assert/strict";
import { SessionLimitError } from "../core/errors.js";
import type { SessionEvent } from "../core/events.js";
import { hashToken } from "../core/ids.js";
import type { SessionStore, SessionWrite } from "../core/store.js";
import { GatedStore } from "./gate.js";
import type { ConformanceCase, ConformanceOptions, Skip, StoreFactory } from "./harness.js";
import { harness, sleep } from "./harness.js";

const USER = "ada@example.com";
const device = (n: number) => ({ ip: `203.0.113.${n}`, headers: { "user-agent": `Device ${n}` } });
const retiring = (_key: string, write?: SessionWrite) => write?.data === "-";

export function userCases(factory: StoreFactory, options: ConformanceOptions): ConformanceCase[] {
  const { withStore, manager, tokenOf, short } = harness(factory, options);
  /** Runs only on stores that keep a user index; others report the case as skipped. */
  const withUsers = (run: (store: SessionStore) => Promise<void>) =>
    withStore(async (store, skip: Skip) => {
      if (!store.listByOwner) return skip("the store has no listByOwner()");
      await run(store);
    });

  /** Signs `user` in from device `n` in a fresh session; resolves to its token. */
  const signedIn = async (sessions: ReturnType<typeof manager>, n: number, user = USER) => {
    const session = await sessions.load(undefined, { device: device(n) });
    await session.signIn(user);
    return tokenOf(await sessions.commit(session));
  };

  return [
    {
      name: "signIn rotates the id, binds the user, and listSessions shows the device",
      run: withUsers(async (store) => {
        const sessions = manager(store);
        const anonymous = await sessions.load(undefined, { device: device(1) });
        anonymous.set("cart", ["book"]);
        const before = tokenOf(await sessions.commit(anonymous));
        const s = await sessions.load(before, { device: device(1) });
        await s.signIn(USER);
        const token = tokenOf(await sessions.commit(s));
        assert.notEqual(token, before, "signing in rotates the id");
        assert.equal((await sessions.load(before)).isNew, true, "the anonymous id loads nothing");
        const loaded = await sessions.load(token);
        assert.equal(loaded.userId, USER);
        assert.deepEqual(loaded.get("cart"), ["book"], "same data");
        const list = await sessions.listSessions(USER);
        assert.equal(list.length, 1);
        assert.equal(list[0]!.handle, loaded.handle);
        assert.equal(list[0]!.userAgent, "Device 1");
        assert.equal(list[0]!.ip, "203.0.113.1");
        assert.ok(list[0]!.signedInAt instanceof Date && list[0]!.lastSeenAt instanceof Date && list[0]!.expiresAt > new Date());
        assert.deepEqual(await sessions.listSessions("someone-else"), [], "a user with no sessions lists []");
        await sessions.close();
      }),
    },
    {
      name: "the user id is hashed at rest and the handle reveals neither token nor key",
      run: withUsers(async (store) => {
        const sessions = manager(store);
        const token = await signedIn(sessions, 1);
        const key = hashToken(token);
        const record = (await store.get(key)) ?? assert.fail("the session is stored");
        assert.ok(!record.data.includes(USER), "no user id in the record's data");
        assert.ok(record.owner && !record.owner.includes(USER), "the owner is a hash of the user id");
        const owned = await store.listByOwner!(record.owner!);
        assert.deepEqual(owned.map((entry) => entry.key), [key]);
        const session = await sessions.load(token);
        const handle = session.handle;
        assert.ok(!token.includes(handle) && !key.includes(handle) && handle.length >= 16);
        await session.regenerate();
        assert.equal(session.handle, handle, "a regenerated session keeps its handle, so a listed handle still names it");
        await session.signIn(USER);
        assert.notEqual(session.handle, handle, "a new sign-in gets a new handle");
        await sessions.close();
      }),
    },
    {
      name: "revokeUser ends every session of the user; with except it keeps that one",
      run: withUsers(async (store) => {
        const sessions = manager(store);
        const tokens = [await signedIn(sessions, 1), await signedIn(sessions, 2), await signedIn(sessions, 3)];
        const other = await signedIn(sessions, 4, "grace");
        const current = await sessions.load(tokens[0]);
        assert.equal(await sessions.revokeUser(USER, { except: current }), 2);
        assert.deepEqual((await sessions.listSessions(USER)).map((info) => info.handle), [current.handle]);
        assert.equal((await sessions.load(tokens[1])).isNew, true);
        assert.equal((await sessions.load(tokens[2])).isNew, true);
        assert.equal(await sessions.revokeUser(USER), 1);
        assert.equal((await sessions.load(tokens[0])).isNew, true);
        assert.deepEqual(await sessions.listSessions(USER), []);
        assert.equal((await sessions.load(other)).userId, "grace", "another user's session is untouched");
        await sessions.close();
      }),
    },
    {
      name: "a signed-in session regenerated later (no new sign-in) stays listed, and revokeUser still ends it",
      run: withUsers(async (store) => {
        const sessions = manager(store);
        const signedInToken = await signedIn(sessions, 1);
        const session = await sessions.load(signedInToken);
        await session.regenerate(); // as an app does before a sensitive step, the user unchanged
        const token = tokenOf(await sessions.commit(session));
        assert.notEqual(token, signedInToken);
        assert.equal((await sessions.load(token)).userId, USER);
        assert.deepEqual((await sessions.listSessions(USER)).map((info) => info.handle), [session.handle], "the new id is the user's listed session");
        assert.equal(await sessions.revokeUser(USER), 1, "sign out everywhere reaches it");
        assert.equal((await sessions.load(token)).isNew, true, "the regenerated id is revoked");
        await sessions.close();
      }),
    },
    {
      name: "revokeSession ends that device only; an unknown handle changes nothing",
      run: withUsers(async (store) => {
        const events: SessionEvent[] = [];
        const sessions = manager(store, { onEvent: (event) => events.push(event) });
        const first = await signedIn(sessions, 1);
        const second = await signedIn(sessions, 2);
        const target = (await sessions.load(second)).handle;
        assert.equal(await sessions.revokeSession(USER, "no-such-handle"), false);
        assert.equal(await sessions.revokeSession("grace", target), false, "a handle only works for its own user");
        assert.equal(await sessions.revokeSession(USER, target), true);
        assert.equal((await sessions.load(second)).isNew, true);
        assert.equal((await sessions.load(first)).userId, USER);
        assert.ok(events.some((event) => event.type === "revoked" && event.handle === target && event.userId === USER));
        assert.ok(events.some((event) => event.type === "signed-in"));
        await sessions.close();
      }),
    },
    {
      name: "a request that loaded before revokeUser cannot bring its session back by committing",
      run: withUsers(async (store) => {
        const sessions = manager(store);
        const token = await signedIn(sessions, 1);
        const inFlight = await sessions.load(token);
        await sessions.revokeUser(USER);
        inFlight.set("late", true);
        assert.deepEqual(await sessions.commit(inFlight), []);
        assert.equal(inFlight.superseded, true);
        assert.equal((await sessions.load(token)).isNew, true);
        assert.deepEqual(await sessions.listSessions(USER), []);
        await sessions.close();
      }),
    },
    {
      name: "revokeUser while a sign-in holds before retiring the old id leaves nothing live",
      run: withUsers(async (store) => {
        const gated = new GatedStore(store);
        const sessions = manager(gated);
        const token = await signedIn(sessions, 1);
        const again = await sessions.load(token);
        const gate = gated.hold("set", retiring);
        const signingIn = again.signIn(USER);
        await gate.reached; // the new record is written (and indexed), the old one still live
        assert.ok((await sessions.revokeUser(USER)) >= 1);
        gate.release();
        await signingIn.catch(() => {});
        await sessions.commit(again);
        assert.equal((await sessions.load(token)).isNew, true);
        assert.equal((await sessions.load(again.id)).isNew, true, "the rotated id does not survive the revocation");
        assert.deepEqual(await sessions.listSessions(USER), []);
        await sessions.close();
      }),
    },
    {
      name: "the index entry is written before the record it points to",
      run: withStore(async (store, skip) => {
        if (!store.listByOwner) return skip("the store has no listByOwner()");
        if (!store.indexOwner) return skip("the store has no indexOwner(): its set() keeps the index itself, atomically");
        const gated = new GatedStore(store);
        const sessions = manager(gated);
        const token = await signedIn(sessions, 1);
        const key = hashToken(token);
        const indexed = gated.calls.indexOf(`indexOwner ${key}`);
        assert.ok(indexed !== -1 && indexed < gated.calls.indexOf(`set ${key}`));
        await sessions.close();
      }),
    },
    {
      name: "after 6 concurrent sign-ins settle, maxSessionsPerUser 3 are live (evict-oldest)",
      run: withUsers(async (store) => {
        const events: SessionEvent[] = [];
        const sessions = manager(store, { maxSessionsPerUser: 3, onEvent: (event) => events.push(event) });
        const racers = await Promise.all(
          Array.from({ length: 6 }, async (_, i) => {
            const session = await sessions.load(undefined, { device: device(i) });
            await session.signIn(USER);
            const cookies = await sessions.commit(session);
            // A racer that ranks past the cap evicts itself: superseded, and no cookie is sent.
            assert.equal(cookies.length === 0, session.superseded);
            return cookies.length > 0 ? tokenOf(cookies) : undefined;
          }),
        );
        const live = await sessions.listSessions(USER);
        assert.equal(live.length, 3);
        const loaded = await Promise.all(racers.map((token) => sessions.load(token)));
        assert.equal(loaded.filter((s) => !s.isNew).length, 3, "evicted sessions no longer load");
        const evicted = new Set(events.filter((event) => event.type === "evicted").map((event) => event.handle));
        const liveHandles = new Set(live.map((info) => info.handle));
        assert.equal(evicted.size, 3, "an event names each evicted session");
        for (const handle of evicted) assert.ok(!liveHandles.has(handle), "an evicted session is not live");
        await sessions.close();
      }),
    },
    {
      name: 'sessionLimit "reject": a sign-in at the limit rejects with SessionLimitError',
      run: withUsers(async (store) => {
        const sessions = manager(store, { maxSessionsPerUser: 2, sessionLimit: "reject" });
        await signedIn(sessions, 1);
        await signedIn(sessions, 2);
        const third = await sessions.load();
        await assert.rejects(third.signIn(USER), (error: unknown) => error instanceof SessionLimitError && error.code === "ERR_SESSION_LIMIT");
        assert.equal(third.userId, undefined);
        assert.equal((await sessions.listSessions(USER)).length, 2);
        await sessions.close();
      }),
    },
    {
      name: "expired sessions never appear in listSessions",
      run: withUsers(async (store) => {
        const sessions = manager(store, { idleTimeout: short });
        await signedIn(sessions, 1);
        assert.equal((await sessions.listSessions(USER)).length, 1);
        await sleep(short * 2);
        assert.deepEqual(await sessions.listSessions(USER), []);
        await sessions.close();
      }),
    },
  ];
}

/**
 * Finality one level up from a single id: once a logout, revokeSession or revokeUser has
 * resolved, no session it ended loads again, whatever rotation, sign-in or eviction ran beside
 * it. Each case forces one interleaving on a GatedStore barrier and names it in its title.
 */
import assert from "node:assert/strict";
import { SessionLimitError } from "../core/errors.js";
import type { SessionEvent } from "../core/events.js";
import { hashToken } from "../core/ids.js";
import type { SessionStore, SessionWrite } from "../core/store.js";
import { PENDING_GRACE_MS } from "../core/store.js";
import { GatedStore } from "./gate.js";
import type { ConformanceCase, ConformanceOptions, Skip, StoreFactory } from "./harness.js";
import { harness } from "./harness.js";

const USER = "ada@example.com";
const device = (n: number) => ({ ip: `203.0.113.${n}`, headers: { "user-agent": `Device ${n}` } });
const retiring = (_key: string, write?: SessionWrite) => write?.data === "-";
const isFence = (key: string) => key.startsWith("fence_");

export function finalityCases(factory: StoreFactory, options: ConformanceOptions): ConformanceCase[] {
  const { withStore, manager, tokenOf } = harness(factory, options);
  const withUsers = (run: (store: SessionStore) => Promise<void>) =>
    withStore(async (store, skip: Skip) => {
      if (!store.listByOwner) return skip("the store has no listByOwner()");
      await run(store);
    });
  type Manager = ReturnType<typeof manager>;
  const signedIn = async (sessions: Manager, n: number, user = USER) => {
    const session = await sessions.load(undefined, { device: device(n) });
    await session.signIn(user);
    return tokenOf(await sessions.commit(session));
  };
  /** Token of a rotation's new id after it committed, or undefined when no cookie was sent. */
  const committedToken = async (sessions: Manager, session: Awaited<ReturnType<Manager["load"]>>) => {
    const cookies = await sessions.commit(session);
    return cookies.length > 0 && !cookies[0]!.includes("Max-Age=0") && !cookies[0]!.includes("Expires=Thu, 01 Jan 1970") ? tokenOf(cookies) : undefined;
  };
  const assertGone = async (sessions: Manager, tokens: Array<string | undefined>, why: string) => {
    for (const token of tokens) if (token) assert.equal((await sessions.load(token)).isNew, true, why);
    assert.deepEqual(await sessions.listSessions(USER), [], `${why}: nothing listed`);
  };

  /** A revocation that listed the old id, held before deleting it, while the tab rotates. */
  const revokeDuringRotation = (rotate: (session: Awaited<ReturnType<Manager["load"]>>) => Promise<void>, revoke: (sessions: Manager, handle: string) => Promise<unknown>) =>
    withUsers(async (store) => {
      const gated = new GatedStore(store);
      const sessions = manager(gated);
      const token = await signedIn(sessions, 1);
      const tab = await sessions.load(token);
      const handle = tab.handle;
      const held = gated.hold("destroy", (key) => key === hashToken(token));
      const revoking = revoke(sessions, handle);
      await held.reached; // listed the old id, not yet deleted it
      await rotate(tab);
      const rotated = await committedToken(sessions, tab);
      held.release();
      await revoking;
      await assertGone(sessions, [token, rotated, tab.id], "the session the revocation named is dead under every id");
      await sessions.close();
    });

  /**
   * A process killed at `gate` (never released until the check is done) leaves the new record of
   * `session` pending: it expires within the pending window (a minute with the default
   * storeTimeout), not at the session's idle timeout. Once released, the record gets its real expiry.
   */
  const diesPending = async (store: SessionStore, session: Awaited<ReturnType<Manager["load"]>>, gate: { reached: Promise<void>; release(): void }, step: Promise<unknown>) => {
    const started = Date.now();
    await gate.reached; // the process "dies" here
    const phantom = await store.get(hashToken(session.id));
    assert.ok(phantom, "the new record is written");
    assert.ok(phantom.expiresAt <= started + PENDING_GRACE_MS + 5000, `a record no client holds yet ends within the pending window, not at its idle timeout (expires in ${phantom.expiresAt - started} ms)`);
    gate.release();
    await step;
    const confirmed = await store.get(hashToken(session.id));
    assert.ok(confirmed && confirmed.expiresAt > started + PENDING_GRACE_MS + 5000, "the completed step gave the record its real expiry");
  };

  /** A manager that renews ids every 15 minutes, on a clock the case moves (the store's stays real). */
  const renewing = (store: SessionStore) => {
    const clock = { skew: 0 };
    return { sessions: manager(store, { renewInterval: "15m", renewGrace: "5m", now: () => Date.now() + clock.skew }), clock };
  };
  const isForward = (_key: string, write?: SessionWrite) => write?.data.startsWith(">") === true;

  return [
    {
      name: "a sign-in of a stored session dies before retiring the old id: its new record ends within the pending window",
      run: withUsers(async (store) => {
        const gated = new GatedStore(store);
        const sessions = manager(gated);
        const anonymous = await sessions.load();
        anonymous.set("cart", 1);
        const tab = await sessions.load(tokenOf(await sessions.commit(anonymous)));
        const gate = gated.hold("set", retiring);
        await diesPending(store, tab, gate, tab.signIn(USER));
        await sessions.close();
      }),
    },
    {
      name: "a fresh sign-in dies after writing its record, before its fence read: the record ends within the pending window",
      run: withUsers(async (store) => {
        const gated = new GatedStore(store);
        const sessions = manager(gated);
        const session = await sessions.load();
        await session.signIn(USER); // a fresh session: the record is first written by the commit
        const gate = gated.hold("get", isFence);
        await diesPending(store, session, gate, sessions.commit(session));
        await sessions.close();
      }),
    },
    {
      name: "a signed-in regenerate dies after retiring the old id, before its fence read: the new record ends within the pending window",
      run: withUsers(async (store) => {
        const gated = new GatedStore(store);
        const sessions = manager(gated);
        const tab = await sessions.load(await signedIn(sessions, 1));
        const gate = gated.hold("get", isFence);
        await diesPending(store, tab, gate, tab.regenerate());
        await sessions.close();
      }),
    },
    {
      name: "revokeUser and revokeSession during a renewal's grace window end both the previous and the current id",
      run: withUsers(async (store) => {
        for (const revoke of ["revokeUser", "revokeSession"] as const) {
          const { sessions, clock } = renewing(store);
          const previous = await signedIn(sessions, 1);
          clock.skew += 16 * 60_000;
          const current = await committedToken(sessions, await sessions.load(previous));
          assert.ok(current && current !== previous, "the session was renewed");
          assert.equal((await sessions.load(previous)).userId, USER, "the previous id loads during the grace window");
          const [listed] = await sessions.listSessions(USER);
          if (revoke === "revokeUser") assert.equal(await sessions.revokeUser(USER), 1, "one session, though two ids");
          else assert.equal(await sessions.revokeSession(USER, listed!.handle), true);
          await assertGone(sessions, [previous, current], `${revoke} in the grace window`);
          await sessions.close();
        }
      }),
    },
    {
      name: "revokeUser holds after listing while the tab renews its id: both ids are dead",
      run: withUsers(async (store) => {
        const gated = new GatedStore(store);
        const { sessions, clock } = renewing(gated);
        const token = await signedIn(sessions, 1);
        clock.skew += 16 * 60_000;
        const tab = await sessions.load(token);
        const held = gated.hold("destroy", (key) => key === hashToken(token));
        const revoking = sessions.revokeUser(USER);
        await held.reached; // listed the old id, not yet deleted it
        const renewed = await committedToken(sessions, tab); // the renewal writes the new id and the forward
        held.release();
        await revoking;
        await assertGone(sessions, [token, renewed, tab.id], "the revocation reached the renewed session under both ids");
        await sessions.close();
      }),
    },
    {
      name: "a renewal holds before writing its forward while revokeUser runs to the end: both ids are dead",
      run: withUsers(async (store) => {
        const gated = new GatedStore(store);
        const { sessions, clock } = renewing(gated);
        const token = await signedIn(sessions, 1);
        clock.skew += 16 * 60_000;
        const tab = await sessions.load(token);
        const held = gated.hold("set", isForward);
        const committing = committedToken(sessions, tab);
        await held.reached; // the new record is written, the old one still live: both listed
        assert.equal(await sessions.revokeUser(USER), 1);
        held.release();
        const renewed = await committing;
        assert.equal(tab.superseded, true, "the renewal saw the revocation");
        await assertGone(sessions, [token, renewed, tab.id], "revoked during the renewal");
        await sessions.close();
      }),
    },
    {
      name: "a sign-in loses to a logout that ran while it held before retiring: the app's later set() stores nothing, no cookie",
      run: withUsers(async (store) => {
        const gated = new GatedStore(store);
        const sessions = manager(gated);
        const anonymous = await sessions.load();
        anonymous.set("cart", 1);
        const token = tokenOf(await sessions.commit(anonymous));
        const signingIn = await sessions.load(token);
        const leaving = await sessions.load(token);
        const held = gated.hold("set", retiring);
        const signIn = signingIn.signIn(USER);
        await held.reached; // the new record is written, the old one not yet retired
        await leaving.destroy();
        await sessions.commit(leaving);
        held.release();
        await signIn;
        assert.equal(signingIn.superseded, true, "the logout won");
        signingIn.set("user", USER); // what a sign-in action writes after signIn()
        assert.equal(await committedToken(sessions, signingIn), undefined, "no session cookie for the lost sign-in");
        assert.deepEqual(await sessions.listSessions(USER), []);
        assert.equal((await sessions.load(signingIn.id)).isNew, true, "nothing loads under the lost sign-in's id");
        await sessions.close();
      }),
    },
    {
      name: "revokeUser holds after listing while the tab regenerates: the new id is dead too",
      run: revokeDuringRotation((tab) => tab.regenerate(), (sessions) => sessions.revokeUser(USER)),
    },
    {
      name: "revokeUser holds after listing while the tab signs in again: the new id is dead too",
      run: revokeDuringRotation((tab) => tab.signIn(USER), (sessions) => sessions.revokeUser(USER)),
    },
    {
      name: "revokeSession holds after listing while the tab regenerates: the new id is dead too",
      run: revokeDuringRotation((tab) => tab.regenerate(), (sessions, handle) => sessions.revokeSession(USER, handle)),
    },
    {
      name: "a rotation holds before retiring its old id while revokeUser runs to the end: nothing survives, count 1",
      run: withUsers(async (store) => {
        const gated = new GatedStore(store);
        const sessions = manager(gated);
        const token = await signedIn(sessions, 1);
        const tab = await sessions.load(token);
        const held = gated.hold("set", retiring);
        const rotating = tab.regenerate();
        await held.reached; // the new record is written, the old one still live: both listed
        assert.equal(await sessions.revokeUser(USER), 1, "one session ended, though listed under two ids");
        held.release();
        await rotating;
        assert.equal(tab.superseded, true);
        await assertGone(sessions, [token, await committedToken(sessions, tab)], "revoked");
        await sessions.close();
      }),
    },
    {
      name: "a rotation holds before reading the fence while revokeUser runs to the end: the rotation ends itself",
      run: withUsers(async (store) => {
        const gated = new GatedStore(store);
        const sessions = manager(gated);
        const token = await signedIn(sessions, 1);
        const tab = await sessions.load(token);
        const held = gated.hold("get", isFence);
        const rotating = tab.regenerate();
        await held.reached; // new record written, old id retired, fence not yet read
        await sessions.revokeUser(USER);
        held.release();
        await rotating;
        assert.equal(tab.superseded, true, "the rotation saw the revocation and ended its session");
        await assertGone(sessions, [token, tab.id], "revoked");
        await sessions.close();
      }),
    },
    {
      name: "a tab rotating in a loop cannot escape revokeUser",
      run: withUsers(async (store) => {
        const sessions = manager(store);
        let token: string | undefined = await signedIn(sessions, 1);
        const loop = (async () => {
          for (let i = 0; i < 20 && token; i++) {
            const tab = await sessions.load(token);
            if (tab.isNew) return;
            await tab.regenerate();
            token = await committedToken(sessions, tab);
          }
        })();
        await sessions.revokeUser(USER);
        const afterRevoke = token;
        await loop;
        await assertGone(sessions, [afterRevoke, token], "the looping tab was signed out");
        await sessions.close();
      }),
    },
    {
      name: "B destroys after A's regenerate of the same session: the rotated id is dead and B expires the cookie",
      run: withUsers(async (store) => {
        const sessions = manager(store);
        const token = await signedIn(sessions, 1);
        const b = await sessions.load(token); // loaded before the rotation
        const a = await sessions.load(token);
        await a.regenerate();
        const rotated = await committedToken(sessions, a);
        await b.destroy();
        const cookies = await sessions.commit(b);
        assert.ok(cookies.length === 1 && /Max-Age=0|Expires=Thu, 01 Jan 1970/.test(cookies[0]!), "the logout still expires the cookie");
        await assertGone(sessions, [token, rotated], "the logout the user pressed wins over the rotation");
        await sessions.close();
      }),
    },
    {
      name: "B destroys while A's regenerate holds before retiring the old id: A ends superseded",
      run: withUsers(async (store) => {
        const gated = new GatedStore(store);
        const sessions = manager(gated);
        const token = await signedIn(sessions, 1);
        const b = await sessions.load(token);
        const a = await sessions.load(token);
        const retire = gated.hold("set", retiring);
        const rotating = a.regenerate();
        await retire.reached;
        await b.destroy();
        await sessions.commit(b);
        retire.release();
        await rotating;
        assert.equal(a.superseded, true);
        await assertGone(sessions, [token, a.id], "logged out");
        await sessions.close();
      }),
    },
    {
      name: "except keeps the caller's session after another tab rotated it; the others end",
      run: withUsers(async (store) => {
        const sessions = manager(store);
        const mine = await signedIn(sessions, 1);
        const other = await signedIn(sessions, 2);
        const caller = await sessions.load(mine);
        const otherTab = await sessions.load(mine);
        await otherTab.regenerate();
        const rotated = await committedToken(sessions, otherTab);
        assert.equal(await sessions.revokeUser(USER, { except: caller }), 1);
        assert.equal((await sessions.load(rotated)).userId, USER, "the caller's session, under its new id, is kept");
        assert.equal((await sessions.load(other)).isNew, true);
        await sessions.close();
      }),
    },
    {
      name: "a handle listed before a regenerate still revokes the session",
      run: withUsers(async (store) => {
        const sessions = manager(store);
        const token = await signedIn(sessions, 1);
        const [listed] = await sessions.listSessions(USER);
        const tab = await sessions.load(token);
        await tab.regenerate();
        const rotated = await committedToken(sessions, tab);
        assert.deepEqual((await sessions.listSessions(USER)).map((info) => info.handle), [listed!.handle], "one entry, the same handle");
        assert.equal(await sessions.revokeSession(USER, listed!.handle), true);
        await assertGone(sessions, [token, rotated], "revoked by its old handle");
        await sessions.close();
      }),
    },
    {
      name: 'sessionLimit "reject": 4 racing sign-ins never end the session that was live before',
      run: withUsers(async (store) => {
        const sessions = manager(store, { maxSessionsPerUser: 2, sessionLimit: "reject" });
        const existing = await signedIn(sessions, 1);
        const outcomes = await Promise.allSettled(Array.from({ length: 4 }, (_, i) => signedIn(sessions, i + 2)));
        for (const outcome of outcomes) {
          if (outcome.status === "rejected") assert.ok(outcome.reason instanceof SessionLimitError, String(outcome.reason));
        }
        assert.equal((await sessions.load(existing)).userId, USER, "the existing session is still signed in");
        for (const outcome of outcomes) {
          if (outcome.status === "fulfilled") assert.equal((await sessions.load(outcome.value)).userId, USER, "a racer that got a cookie is signed in");
        }
        await sessions.close();
      }),
    },
    {
      name: "evict-oldest: a racer that reads the evicting fence before the evicter deletes it still gets its evicted event",
      run: withUsers(async (store) => {
        const gated = new GatedStore(store);
        const events: SessionEvent[] = [];
        let skew = 0; // the evicter signs in a second later, so it ranks newest
        const sessions = manager(gated, { maxSessionsPerUser: 1, now: () => Date.now() + skew, onEvent: (event) => events.push(event) });
        const racer = await sessions.load(undefined, { device: device(1) });
        await racer.signIn(USER); // a fresh session: its record is written by the commit
        const racerHandle = racer.handle;
        const racerHeld = gated.hold("get", isFence);
        const racing = sessions.commit(racer);
        await racerHeld.reached; // its record written, its fence not yet read
        skew += 1000;
        let listings = 0;
        const evicterHeld = gated.hold("listByOwner", () => ++listings === 2);
        const evicter = await sessions.load(undefined, { device: device(2) });
        await evicter.signIn(USER);
        const evicting = sessions.commit(evicter);
        await evicterHeld.reached; // the fence names the racer; the evicter has not listed it for deletion yet
        racerHeld.release();
        await racing;
        assert.equal(racer.superseded, true, "the racer read the fence and ended itself");
        evicterHeld.release();
        await evicting;
        assert.ok(events.some((event) => event.type === "evicted" && event.handle === racerHandle), "its end has an evicted event");
        assert.equal((await sessions.listSessions(USER)).length, 1);
        await sessions.close();
      }),
    },
    {
      name: "evict-oldest: a sign-in evicts a session whose rotation holds before retiring: exactly max stay live",
      run: withUsers(async (store) => {
        const gated = new GatedStore(store);
        let skew = 0; // sign-ins a second apart, so "oldest" is never a tie broken by handle
        const sessions = manager(gated, { maxSessionsPerUser: 2, now: () => Date.now() + skew });
        const oldest = await signedIn(sessions, 1);
        skew += 1000;
        const second = await signedIn(sessions, 2);
        skew += 1000;
        const tab = await sessions.load(oldest);
        const held = gated.hold("set", retiring);
        const rotating = tab.regenerate();
        await held.reached; // the oldest session's new record exists beside the old one
        const third = await signedIn(sessions, 3);
        held.release();
        await rotating;
        assert.equal(tab.superseded, true, "the evicted session's rotation ended");
        assert.equal((await sessions.listSessions(USER)).length, 2);
        assert.equal((await sessions.load(second)).userId, USER);
        assert.equal((await sessions.load(third)).userId, USER);
        await sessions.close();
      }),
    },
  ];
}

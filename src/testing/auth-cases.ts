/**
 * Authentication-aware sessions on every store: when and how the user authenticated (signIn's
 * `method`, `reauthenticated`, `isFresh`) and a lifetime of the session's own (remember me or not).
 */
import assert from "node:assert/strict";
import type { SessionStore } from "../core/store.js";
import type { ConformanceCase, ConformanceOptions, StoreFactory } from "./harness.js";
import { harness, sleep } from "./harness.js";

const USER = "ada@example.com";

export function authCases(factory: StoreFactory, options: ConformanceOptions): ConformanceCase[] {
  const { withStore, manager, tokenOf, short } = harness(factory, options);
  return [
    {
      name: "signIn records when and how the user authenticated; isFresh counts from it; reauthenticated renews it under a new id",
      run: withStore(async (store: SessionStore) => {
        let now = Date.now();
        const sessions = manager(store, { now: () => now });
        const session = await sessions.load();
        await session.signIn(USER, { method: "password" });
        const token = tokenOf(await sessions.commit(session));
        const signedInAt = now;
        now += 5 * 60_000;
        const later = await sessions.load(token);
        assert.equal(later.authMethod, "password");
        assert.equal(later.authenticatedAt?.getTime(), signedInAt);
        assert.equal(later.isFresh("10m"), true);
        assert.equal(later.isFresh("1m"), false, "five minutes after the sign-in it is not fresh within one");
        assert.equal(later.isFresh("10m", { methods: ["webauthn"] }), false, "a method the app does not accept is not fresh");
        const handle = later.handle;
        await later.reauthenticated({ method: "webauthn" });
        const renewed = tokenOf(await sessions.commit(later));
        assert.notEqual(renewed, token, "reauthentication rotates the id");
        assert.equal((await sessions.load(token)).isNew, true, "the id before it is dead");
        const after = await sessions.load(renewed);
        assert.equal(after.authenticatedAt?.getTime(), now);
        assert.equal(after.authMethod, "webauthn");
        assert.equal(after.isFresh("1m", { methods: ["webauthn"] }), true);
        assert.equal(after.handle, handle, "the same session: the same handle");
        if (store.listByOwner) {
          const [info] = await sessions.listSessions(USER);
          assert.equal(info?.authMethod, "webauthn");
          assert.equal(info?.authenticatedAt.getTime(), now);
        }
        const anonymous = await sessions.load();
        assert.equal(anonymous.isFresh("1h"), false, "a signed-out session is never fresh");
        await assert.rejects(anonymous.reauthenticated(), { code: "ERR_SESSION_NOT_SIGNED_IN" });
        await sessions.close();
      }),
    },
    {
      name: "signIn's own lifetime: a short idle timeout, a browser-session cookie, bounded by the manager's maximums",
      run: withStore(async (store: SessionStore) => {
        const sessions = manager(store, { cookie: { persistent: true }, maxAbsoluteTimeout: "30d" });
        const session = await sessions.load();
        await session.signIn(USER, { idleTimeout: short, persistent: false });
        const cookies = await sessions.commit(session);
        assert.ok(!/Max-Age/i.test(cookies[0]!), "persistent: false sends a browser-session cookie");
        const token = tokenOf(cookies);
        if (store.listByOwner) assert.equal((await sessions.listSessions(USER))[0]?.persistent, false);
        const remembered = await sessions.load();
        await remembered.signIn(USER, { absoluteTimeout: "30d" });
        const rememberedCookie = (await sessions.commit(remembered))[0]!;
        const maxAge = Number(/Max-Age=(\d+)/i.exec(rememberedCookie)?.[1]);
        assert.ok(maxAge > 29 * 86_400, `"remember me" lasts its own absolute lifetime (Max-Age ${maxAge})`);
        await assert.rejects((await sessions.load()).signIn(USER, { absoluteTimeout: "31d" }), TypeError, "above maxAbsoluteTimeout is refused");
        await assert.rejects((await sessions.load()).signIn(USER, { idleTimeout: "2h" }), TypeError, "above maxIdleTimeout (default: idleTimeout) is refused");
        await sleep(short * 2);
        assert.equal((await sessions.load(token)).isNew, true, "the session idled out on its own timeout");
        await sessions.close();
      }),
    },
  ];
}

import type { SessionEventType } from "../events.js";
import { RETIRED } from "../envelope.js";
import type { SessionHeader } from "../node-http.js";
import type { Session } from "../session.js";
import type { Awaitable, SessionStore, StoreCallOptions } from "../store.js";
import type { DbscHost } from "./handler.js";
import type { ResolvedDbsc } from "./options.js";
import { usedChallengeKey } from "./tokens.js";

/** What the manager lends the DBSC host: its clock, its store calls (timeout, typed errors) and its events. */
export interface DbscManagerParts {
  now(): number;
  find(cookieHeader: string | undefined, secure: boolean): Promise<Session<object> | null>;
  store(): Promise<SessionStore>;
  call<R>(operation: string, run: (options: StoreCallOptions) => Awaitable<R>): Awaitable<R>;
  commit(session: Session<object>): Promise<SessionHeader[]>;
  emit(type: SessionEventType, session: Session<object>): void;
}

export function dbscHost(dbsc: ResolvedDbsc, parts: DbscManagerParts): DbscHost {
  return {
    dbsc,
    now: parts.now,
    find: parts.find,
    commit: parts.commit,
    emit: parts.emit,
    /**
     * A used challenge is a record that must not exist yet: the store contract's compare-and-set
     * with expectedVersion 0 applies "only if no live record", atomically, so of two requests
     * racing with one proof exactly one wins, in every store. The record reads as retired (never a
     * session) and expires with the challenge, after which the challenge is refused by its own expiry.
     */
    consume: async (challenge, expiresAt) => {
      const store = await parts.store();
      const key = usedChallengeKey(challenge);
      return parts.call("set", (o) => store.set(key, { data: RETIRED, expiresAt, version: 1, expectedVersion: 0 }, o));
    },
  };
}

import { expect } from "vitest";
import type { SessionStore } from "../../src/index.js";
import { SessionManager } from "../../src/index.js";

/** Statement texts a counting pool saw since the last reset. */
export interface CountedStatements {
  texts: string[];
  reset(): void;
}

/**
 * Drives one session through new → changed → read → touched and checks the statements each step
 * sent: none to load a new session, one INSERT to commit it, one SELECT per load, one UPDATE per
 * changed commit, nothing for a read inside touchInterval, and a touch (matching `touch`) after it.
 */
export async function expectOneStatementPerStep(store: SessionStore, counted: CountedStatements, touch: RegExp): Promise<void> {
  let now = Date.now();
  const sessions = new SessionManager({ store, gcInterval: 0, touchInterval: "1m", now: () => now });
  try {
    await store.count?.(); // creates the table, outside the counted part
    const { texts, reset } = counted;
    reset();
    const created = await sessions.load();
    created.set("user", "ada");
    const token = /^sid=([^;]*)/.exec((await sessions.commit(created))[0]!)![1]!;
    expect(texts).toHaveLength(1); // new session: no read, one INSERT

    reset();
    const changed = await sessions.load(token);
    expect(texts).toHaveLength(1);
    changed.set("n", 1);
    await sessions.commit(changed);
    expect(texts).toHaveLength(2); // one SELECT, one UPDATE

    reset();
    now += 30_000;
    await sessions.commit(await sessions.load(token));
    expect(texts).toHaveLength(1); // read only: inside touchInterval nothing is written

    reset();
    now += 90_000;
    await sessions.commit(await sessions.load(token));
    expect(texts).toHaveLength(2);
    expect(texts[1]).toMatch(touch); // a touch, not a rewrite of the data
  } finally {
    await sessions.close();
  }
}

/**
 * Issue 31, item 4: what a store dump shows of a signed-in user. The owner key is HMAC-SHA256
 * under atRestSecret (no enumeration of user ids reverses it), and the device is sealed, with or
 * without the secret; listSessions still shows it to the manager that holds the key.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SessionManager } from "../../src/core/manager.js";
import type { SessionManagerOptions } from "../../src/core/options.js";
import { jsonCodec } from "../../src/core/codec.js";
import { encodeEnvelope, sealUserId } from "../../src/core/envelope.js";
import { generateToken, hashToken } from "../../src/core/ids.js";
import { MemoryStore } from "../../src/stores/memory.js";

const USER = "48213"; // a numeric id: the enumerable kind
const UA = "Mozilla/5.0 (X11; Linux) Firefox/140.0 at-rest test";
const IP = "198.51.100.77";
const AT_REST = "at-rest: 5d1c9e07a3b4f628 c0e9a71d3b";

async function signInAndDump(store: MemoryStore, options: Partial<SessionManagerOptions> = {}) {
  const sessions = new SessionManager({ store, gcInterval: 0, ...options });
  const session = await sessions.load(undefined, { device: { ip: IP, headers: { "user-agent": UA } } });
  await session.signIn(USER);
  const [cookie] = await sessions.commit(session);
  const token = /^sid=([^;]*)/.exec(cookie!)![1]!;
  const record = store.get(hashToken(token))!;
  return { sessions, record, token };
}

/** Everything a dump of the record shows, with every base64url run decoded as well. */
function readable(record: { data: string; owner?: string }): string {
  const runs = `${record.data} ${record.owner ?? ""}`.match(/[A-Za-z0-9_-]{8,}/g) ?? [];
  return [record.data, record.owner, ...runs.map((run) => Buffer.from(run, "base64url").toString("latin1"))].join("\n");
}

const sha256Owner = (id: string) => createHash("sha256").update(`sessionkit/owner\0${id}`).digest("base64url");

describe("a store dump of a signed-in session (issue 31)", () => {
  it("shows no User-Agent and no IP, with or without atRestSecret; listSessions still does", async () => {
    for (const options of [{}, { atRestSecret: AT_REST }]) {
      const { sessions, record } = await signInAndDump(new MemoryStore(), options);
      const dump = readable(record);
      expect(dump).not.toContain("Firefox");
      expect(dump).not.toContain(IP);
      expect(await sessions.listSessions(USER)).toMatchObject([{ userAgent: UA, ip: IP }]);
    }
  });

  it("with atRestSecret, the owner key is not SHA-256 of any id: enumerating ids finds nothing", async () => {
    const { record } = await signInAndDump(new MemoryStore(), { atRestSecret: AT_REST });
    expect(record.owner).toBeDefined();
    let found: string | undefined;
    for (let id = 0; id < 100_000 && found === undefined; id++) if (sha256Owner(String(id)) === record.owner) found = String(id);
    expect(found).toBeUndefined();
    // Without it the same enumeration recovers the id: what the docs say a dump reveals.
    const plain = await signInAndDump(new MemoryStore());
    expect(plain.record.owner).toBe(sha256Owner(USER));
  });

  it("a manager with another atRestSecret lists nothing and cannot read the device", async () => {
    const store = new MemoryStore();
    await signInAndDump(store, { atRestSecret: AT_REST });
    const other = new SessionManager({ store, gcInterval: 0, atRestSecret: "another: 0b8e2d6f9a17c453 e2a9c04d7f" });
    expect(await other.listSessions(USER)).toEqual([]);
  });

  it("migration: sessions signed in before atRestSecret was set are still listed (with their device) and revoked", async () => {
    const store = new MemoryStore();
    const before = await signInAndDump(store);
    const after = await signInAndDump(store, { atRestSecret: AT_REST });
    expect(after.record.owner).not.toBe(before.record.owner);
    const listed = await after.sessions.listSessions(USER);
    expect(listed).toHaveLength(2);
    expect(listed.every((info) => info.userAgent === UA && info.ip === IP)).toBe(true);
    // The old session still loads, with its device, under the manager that has the secret.
    const loaded = await after.sessions.load(before.token);
    expect(loaded.isNew).toBe(false);
    expect(loaded.userId).toBe(USER);
    expect(await after.sessions.revokeUser(USER)).toBe(2);
    expect(await after.sessions.listSessions(USER)).toEqual([]);
    expect((await after.sessions.load(before.token)).isNew).toBe(true);
  });

  it("a record of sessionkit 0.2 (device in the clear) still shows its device, and loads", async () => {
    const store = new MemoryStore();
    const token = generateToken();
    const now = Date.now();
    const meta = { o: sha256Owner(USER), s: now, l: now, u: sealUserId(USER, token), a: UA, i: IP };
    const data = encodeEnvelope(jsonCodec, now, new Map(), meta);
    store.set(hashToken(token), { data, expiresAt: now + 600_000, version: 1, expectedVersion: 0, owner: meta.o });
    const sessions = new SessionManager({ store, gcInterval: 0, atRestSecret: AT_REST });
    expect(await sessions.listSessions(USER)).toMatchObject([{ userAgent: UA, ip: IP }]);
    expect((await sessions.load(token)).userId).toBe(USER);
  });

  it("later writes keep the sealed device: a load does not open it, a write stores it as it was", async () => {
    const store = new MemoryStore();
    const { sessions, token, record } = await signInAndDump(store, { atRestSecret: AT_REST });
    const session = await sessions.load(token);
    session.set("cart" as never, ["book"] as never);
    await sessions.commit(session);
    const rewritten = store.get(hashToken(token))!;
    expect(rewritten.data).not.toBe(record.data);
    expect(readable(rewritten)).not.toContain("Firefox");
    expect(await sessions.listSessions(USER)).toMatchObject([{ userAgent: UA, ip: IP }]);
  });

  it("atRestSecret follows the secrets rule", () => {
    expect(() => new SessionManager({ store: new MemoryStore(), atRestSecret: "short" })).toThrow(/option "atRestSecret"/);
    expect(() => new SessionManager({ store: new MemoryStore(), atRestSecret: "0123456789abcdef0123456789abcdef" })).toThrow(/option "atRestSecret".*too little variety/);
  });
});

import { SessionConflictError } from "./errors.js";
import type { Awaitable, SessionStore, StoreCallOptions } from "./store.js";

/**
 * Revocations of cookie sessions. The server keeps no list of sessions that live in cookies, so
 * "sign out everywhere" is remembered instead: one small record per user, in a server-side store
 * the app gives (option `revocations`), holding a cut-off time (sessions signed in at or before
 * it are dead, except one kept handle) and a deny-list of single handles, each until the latest
 * moment such a cookie could still be valid (its absolute deadline). A signed-in cookie session
 * costs one read of that record per load; anonymous ones cost nothing.
 */
interface RevocationRecord {
  /** Sessions signed in at or before this time are revoked… */
  cutoff: number;
  /** …except this one ("sign out the others"). */
  keep?: string;
  /** Single revoked sessions: handle → when the entry may be forgotten. */
  denied: Record<string, number>;
}

export interface RevocationContext {
  call<R>(operation: string, run: (options: StoreCallOptions) => Awaitable<R>): Awaitable<R>;
  now(): number;
  absoluteTimeout: number;
}

const MAX_ATTEMPTS = 16;

// Keys share the store's alphabet; the prefix keeps them apart from session keys in a shared store.
const keyOf = (owner: string) => `revoked-${owner}`;

/** True when the signed-in cookie session of `owner` (handle from `handleOf`), signed in at `signedInAt`, was revoked. */
export async function isRevoked(ctx: RevocationContext, store: SessionStore, owner: string, handleOf: () => string, signedInAt: number): Promise<boolean> {
  const found = await ctx.call("get", (o) => store.get(keyOf(owner), o));
  const record = found && parse(found.data);
  if (!record) return false; // most users never revoked anything: no handle is computed for them
  const handle = handleOf();
  if (signedInAt <= record.cutoff && handle !== record.keep) return true;
  return Object.hasOwn(record.denied, handle);
}

/** Revokes every session of `owner` signed in until now, except `keep`. */
export function revokeAll(ctx: RevocationContext, store: SessionStore, owner: string, keep: string | undefined): Promise<void> {
  return update(ctx, store, owner, (record, now) => {
    record.cutoff = now;
    if (keep === undefined) delete record.keep;
    else record.keep = keep;
  });
}

/** Revokes the one session `handle` of `owner`. */
export function revokeOne(ctx: RevocationContext, store: SessionStore, owner: string, handle: string): Promise<void> {
  return update(ctx, store, owner, (record, now) => {
    record.denied[handle] = now + ctx.absoluteTimeout;
    if (record.keep === handle) delete record.keep;
  });
}

/** Read, change and compare-and-set the user's record, retrying on a concurrent change. */
async function update(ctx: RevocationContext, store: SessionStore, owner: string, change: (record: RevocationRecord, now: number) => void): Promise<void> {
  const key = keyOf(owner);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const now = ctx.now();
    const found = await ctx.call("get", (o) => store.get(key, o));
    const record = (found && parse(found.data)) || { cutoff: 0, denied: {} };
    change(record, now);
    for (const [handle, until] of Object.entries(record.denied)) if (until <= now) delete record.denied[handle];
    // A cut-off matters as long as a cookie signed in before it could still be valid.
    const expiresAt = Math.max(record.cutoff + ctx.absoluteTimeout, ...Object.values(record.denied));
    const version = found?.version ?? 0;
    const write = { data: JSON.stringify(record), expiresAt, version: version + 1, expectedVersion: version };
    if (await ctx.call("set", (o) => store.set(key, write, o))) return;
  }
  throw new SessionConflictError(MAX_ATTEMPTS); // the revocation record kept changing
}

function parse(text: string): RevocationRecord | null {
  try {
    const record = JSON.parse(text) as RevocationRecord;
    return typeof record.cutoff === "number" && typeof record.denied === "object" && record.denied !== null ? record : null;
  } catch {
    return null;
  }
}

/**
 * Per-user fences: how a revocation reaches a session that is moving to a new id while the
 * revocation lists the user's sessions.
 *
 * A revocation (revokeUser, revokeSession, logout after a rotation, a cap eviction) first
 * advances the user's fence, then lists and deletes. A sign-in reads the fence before its first
 * write and keeps the mark it saw in the record; every rotation of a signed-in session reads the
 * fence again after it retired the old id (a renewal: after it turned the old id into a forward,
 * which leads nowhere once the new record is deleted). Either the rotation's new record was in place before
 * the revocation listed (so the listing finds it and deletes it), or the rotation reads a fence
 * entry that the revocation wrote first and, if the entry names its session, deletes its own new
 * record. So no interleaving lets a rotating session escape, with nothing but get/set of the
 * store contract.
 *
 * The fence is one small record per user (key `fence_<owner>`, no owner: never listed), kept for
 * the absolute timeout after its last entry: a session that read an older fence is dead by then,
 * and a missing fence means nothing was revoked since any live session signed in. It keeps the
 * last FENCE_LOG entries; a rotation that finds its mark older than the log ends itself, the
 * safe side, which takes more than FENCE_LOG revocations of one user during one rotation.
 */
import type { ManagerContext } from "./context.js";
import { final } from "./store-call.js";
import { randomUUID } from "node:crypto";
import { SessionConflictError } from "./errors.js";
import type { SessionStore } from "./store.js";

/** The fence a session saw when it signed in: the fence's epoch and generation. */
export interface FenceMark {
  e: string;
  g: number;
}

/** Whom one revocation ended: every session of the user but `except`, or just `handles`. */
export type FenceTarget = { all: true; except?: string | undefined } | { handles: string[] };

interface FenceEntry {
  g: number;
  /** Absent: every session of the user… */
  handles?: string[];
  /** …except this handle. */
  except?: string;
}

interface Fence {
  /** Made anew when the record is created, so generations of an expired fence never compare. */
  e: string;
  g: number;
  log: FenceEntry[];
}

/** What these helpers use of the manager's one context. */
export type FenceContext = Pick<ManagerContext, "call" | "now" | "longestLifetime">;

export const FENCE_LOG = 32;
const MAX_ATTEMPTS = 64;

/** 49 characters of the store's key alphabet: never the key of a token (43). */
const fenceKey = (owner: string) => `fence_${owner}`;

/** The user's fence as it is now; null when nothing was revoked within the absolute timeout. */
export async function readFence(ctx: FenceContext, store: SessionStore, owner: string): Promise<Fence | null> {
  const found = await ctx.call("get", (o) => store.get(fenceKey(owner), o));
  return found && found.expiresAt > ctx.now() ? parseFence(found.data) : null;
}

/** What a sign-in keeps in its record. */
export function markOf(fence: Fence | null): FenceMark | undefined {
  return fence ? { e: fence.e, g: fence.g } : undefined;
}

/** Adds an entry for `target`; resolves once it is stored, before the caller lists. */
export async function advanceFence(ctx: FenceContext, store: SessionStore, owner: string, target: FenceTarget): Promise<void> {
  const key = fenceKey(owner);
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const now = ctx.now();
    const found = await ctx.call("get", (o) => store.get(key, o));
    const live = found && found.expiresAt > now ? parseFence(found.data) : null;
    const fence: Fence = live ?? { e: randomUUID(), g: 0, log: [] };
    fence.g += 1;
    fence.log.push(entryOf(fence.g, target));
    if (fence.log.length > FENCE_LOG) fence.log.splice(0, fence.log.length - FENCE_LOG);
    // A missing or expired record counts as version 0 (store contract).
    const expected = found && found.expiresAt > now ? found.version : 0;
    const write = { data: JSON.stringify(fence), expiresAt: now + ctx.longestLifetime, version: expected + 1, expectedVersion: expected };
    if (await ctx.call("set", (o) => store.set(key, write, final(o)))) return;
  }
  throw new SessionConflictError(MAX_ATTEMPTS);
}

/**
 * True when no revocation since `seen` named the session `handle`. Entries the log no longer
 * holds might have: false, so the caller ends the session rather than guess.
 */
export function spared(fence: Fence | null, seen: FenceMark | undefined, handle: string): boolean {
  if (!fence) return true;
  const since = seen && seen.e === fence.e ? seen.g : 0;
  const oldest = fence.log[0]?.g ?? fence.g + 1;
  if (oldest > since + 1 && since < fence.g) return false;
  return fence.log.every((entry) => entry.g <= since || !targets(entry, handle));
}

/** Whether the entry's revocation ended `handle`. */
function targets(entry: FenceEntry, handle: string): boolean {
  return entry.handles ? entry.handles.includes(handle) : entry.except !== handle;
}

export function targetsHandle(target: FenceTarget, handle: string): boolean {
  return "handles" in target ? target.handles.includes(handle) : target.except !== handle;
}

function entryOf(g: number, target: FenceTarget): FenceEntry {
  if ("handles" in target) return { g, handles: target.handles };
  return target.except === undefined ? { g } : { g, except: target.except };
}

function parseFence(text: string): Fence | null {
  try {
    const fence = JSON.parse(text) as Fence;
    return typeof fence.e === "string" && Number.isInteger(fence.g) && Array.isArray(fence.log) ? fence : null;
  } catch {
    return null;
  }
}

import { randomBytes, randomFillSync } from "node:crypto";

/**
 * CSPRNG bytes for tokens, salts, IVs and temp names, cut from a pool the OS generator refills
 * 4 KiB at a time: each `randomBytes` call has a fixed setup cost, larger than a whole session
 * load on Node 20, and one refill costs about as much as one call (bench/README.md, "Speed-ups
 * and what they pay"). Handed-out bytes are zeroed in
 * the pool, so memory read later holds only bytes not yet used (as Node's randomUUID cache does).
 */
const POOL_BYTES = 4096;
const LARGEST_POOLED = 256;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

export function randomBytesPooled(size: number): Buffer {
  if (size > LARGEST_POOLED) return randomBytes(size);
  if (offset + size > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const bytes = Buffer.from(pool.subarray(offset, offset + size)); // a copy: the pool is reused
  pool.fill(0, offset, offset + size);
  offset += size;
  return bytes;
}

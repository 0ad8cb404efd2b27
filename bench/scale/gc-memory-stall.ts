/**
 * The longest gap of a 1 ms timer while MemoryStore.gc() removes 1M expired entries beside 100k
 * live ones: how long the process is held. Figures in bench/README.md ("Expired backlog").
 *
 *   npx tsx bench/scale/gc-memory-stall.ts
 */
import { MemoryStore } from "../../src/stores/memory.js";
const store = new MemoryStore();
const data = "x".repeat(200);
for (let i = 0; i < 1_000_000; i++) store.set(`d${i}`, { data, expiresAt: Date.now() + 1, version: 1, expectedVersion: 0 });
for (let i = 0; i < 100_000; i++) store.set(`l${i}`, { data, expiresAt: Date.now() + 3600_000, version: 1, expectedVersion: 0 });
await new Promise((r) => setTimeout(r, 20));
let last = performance.now(), maxGap = 0, ticks = 0;
const timer = setInterval(() => { const now = performance.now(); maxGap = Math.max(maxGap, now - last); last = now; ticks++; }, 1);
await new Promise((r) => setTimeout(r, 20));
last = performance.now(); maxGap = 0; ticks = 0;
const started = performance.now();
const removed = await store.gc();
const wall = performance.now() - started;
await new Promise((r) => setTimeout(r, 5));
clearInterval(timer);
console.log(JSON.stringify({ removed, wallMs: Math.round(wall), maxGapMs: Math.round(maxGap), ticks }));

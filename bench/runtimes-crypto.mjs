/* global Bun, Deno, performance -- run by node, bun and deno */
// Per-request crypto of the core on each runtime, through the built package (npm run build first):
//   node bench/runtimes-crypto.mjs; node_modules/.bin/bun bench/runtimes-crypto.mjs;
//   node_modules/.bin/deno run -A bench/runtimes-crypto.mjs
// CookieStore seal + open of a 300-byte payload (AES-256-GCM, node:crypto), a signed-token
// round trip through the manager (HMAC-SHA-256), and hashToken (SHA-256) — medians of 7 runs.
import { SessionManager, generateToken, hashToken } from "sessionkit";
import { CookieStore } from "sessionkit/cookie";

const runtime = globalThis.Bun ? `bun ${Bun.version}` : globalThis.Deno ? `deno ${Deno.version.deno}` : `node ${process.versions.node}`;
const store = new CookieStore({ secrets: ["bench secret: 1f6b3d9e0a7c2548 d7e0c93d"] });
const payload = `${generateToken()}|${"x".repeat(256)}`;
const expiresAt = Date.now() + 3_600_000;
const token = generateToken();
const signed = new SessionManager({ store: new (await import("sessionkit")).MemoryStore(), secrets: ["bench secret: 9c2e7a05f3d1b846 e0a1b2"], gcInterval: 0 });
const signedCookie = /^sid=([^;]+)/.exec((await signed.commit(((s) => (s.set("n", 1), s))(await signed.load())))[0])[1];

/** µs per call: the median of 7 runs of `n` calls. */
async function measure(n, run) {
  const runs = [];
  for (let r = 0; r < 7; r++) {
    const start = performance.now();
    for (let i = 0; i < n; i++) await run();
    runs.push(((performance.now() - start) * 1000) / n);
  }
  return runs.sort((a, b) => a - b)[3].toFixed(2);
}

const sealed = store.seal(payload, expiresAt, "sid");
const results = {
  "CookieStore seal": await measure(5000, () => store.seal(payload, expiresAt, "sid")),
  "CookieStore open": await measure(5000, () => store.open(sealed, Date.now(), "sid")),
  "signed token load (HMAC verify + MemoryStore get)": await measure(5000, () => signed.load(signedCookie)),
  "hashToken (SHA-256)": await measure(20000, () => hashToken(token)),
};
console.log(JSON.stringify({ runtime, ...results }));

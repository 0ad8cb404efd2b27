/**
 * What a DBSC refresh costs the server's CPU: parsing and verifying one proof (JWK import
 * included, as the refresh endpoint does it from the stored key) and the bound-cookie check
 * every request of a bound session pays. Usage: npx tsx bench/dbsc-verify.ts
 */
import { generateKeyPairSync, sign } from "node:crypto";
import { parseProof, publicJwk, verifyProof } from "../src/core/dbsc/jwt.js";
import type { DbscAlgorithm } from "../src/core/dbsc/jwt.js";
import { boundCookieValid, boundCookieValue } from "../src/core/dbsc/tokens.js";

function proofFor(alg: DbscAlgorithm) {
  const pair = alg === "ES256" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("rsa", { modulusLength: 2048 });
  const head = Buffer.from(JSON.stringify({ alg, typ: "dbsc+jwt" })).toString("base64url");
  const body = Buffer.from(JSON.stringify({ jti: "challenge", sub: "id" })).toString("base64url");
  const input = Buffer.from(`${head}.${body}`);
  const signature = alg === "ES256" ? sign("sha256", input, { key: pair.privateKey, dsaEncoding: "ieee-p1363" }) : sign("sha256", input, pair.privateKey);
  return { jwt: `${head}.${body}.${signature.toString("base64url")}`, jwk: publicJwk(pair.publicKey.export({ format: "jwk" }), alg)! };
}

function measure(label: string, run: () => boolean, iterations: number): void {
  for (let i = 0; i < iterations / 10; i++) run(); // warm up
  // CPU time of this process, not wall time: on a shared machine the wall clock counts other processes' turns.
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) if (!run()) throw new Error(`${label}: check failed`);
  const used = process.cpuUsage(start);
  console.log(`${label.padEnd(36)} ${((used.user + used.system) / iterations).toFixed(1)} µs CPU`);
}

for (const alg of ["ES256", "RS256"] as const) {
  const { jwt, jwk } = proofFor(alg);
  measure(`${alg} proof parse + verify`, () => {
    const proof = parseProof(jwt, [alg]);
    return proof !== null && verifyProof(proof, jwk, alg);
  }, 5000);
}
const key = Buffer.alloc(32, 7);
const cookie = boundCookieValue(key, "id", Date.now() + 600_000);
measure("bound cookie check (every request)", () => boundCookieValid(key, "id", cookie, Date.now()), 100_000);
console.log(`node ${process.version}`);

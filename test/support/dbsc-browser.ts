/**
 * Plays a DBSC browser with node:crypto keys: keeps cookies, answers Secure-Session-Registration
 * with a proof carrying its public key, and refreshes against Secure-Session-Challenge, as the
 * spec's registration and refresh algorithms say a user agent does.
 */
import type { KeyObject } from "node:crypto";
import { generateKeyPairSync, sign } from "node:crypto";
import { keepCookies } from "./http.js";

export type Alg = "ES256" | "RS256";

// RSA key generation takes tens of milliseconds or more: keys come round from a pool, larger
// than the number of distinct keys any one test uses, so two keys of one test always differ.
const RSA_POOL_SIZE = 6;
const rsaPool: { privateKey: KeyObject; publicKey: KeyObject }[] = [];
let rsaNext = 0;
function rsaPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  if (rsaPool.length < RSA_POOL_SIZE) rsaPool.push(generateKeyPairSync("rsa", { modulusLength: 2048 }));
  return rsaPool[rsaNext++ % RSA_POOL_SIZE]!;
}

export class DbscKey {
  readonly privateKey: KeyObject;
  readonly jwk: Record<string, unknown>;
  constructor(readonly alg: Alg) {
    const pair = alg === "ES256" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : rsaPair();
    this.privateKey = pair.privateKey;
    this.jwk = pair.publicKey.export({ format: "jwk" }) as Record<string, unknown>;
  }

  /** A compact JWS of `payload`, typ dbsc+jwt, signed with this key (or claiming `alg`). */
  proof(payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
    const head = Buffer.from(JSON.stringify({ alg: this.alg, typ: "dbsc+jwt", ...header })).toString("base64url");
    const body = Buffer.from(JSON.stringify(payload)).toString("base64url");
    const input = Buffer.from(`${head}.${body}`);
    const signature = this.alg === "ES256" ? sign("sha256", input, { key: this.privateKey, dsaEncoding: "ieee-p1363" }) : sign("sha256", input, this.privateKey);
    return `${head}.${body}.${signature.toString("base64url")}`;
  }
}

export interface Registration {
  algorithms: string[];
  path: string;
  challenge: string;
}

/** `(ES256 RS256);path="/p";challenge="c"` as the test reads it (the server's own output). */
export function parseRegistration(value: string | null): Registration | null {
  const match = value && /^\(([^)]*)\);path="([^"]*)";challenge="([^"]*)"$/.exec(value);
  return match ? { algorithms: match[1]!.split(" "), path: match[2]!, challenge: match[3]! } : null;
}

export class Browser {
  readonly jar = new Map<string, string>();
  key: DbscKey;
  sessionId: string | undefined;
  refreshUrl: string | undefined;
  lastRegistration: Registration | null = null;
  constructor(
    readonly base: string,
    alg: Alg = "ES256",
  ) {
    this.key = new DbscKey(alg);
  }

  async fetch(path: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Response> {
    const cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join("; ");
    const response = await fetch(this.base + path, {
      method: init.method ?? "GET",
      headers: { ...(cookie ? { cookie } : {}), ...init.headers },
      redirect: "manual",
    });
    keepCookies(this.jar, response);
    const offer = parseRegistration(response.headers.get("secure-session-registration"));
    if (offer) this.lastRegistration = offer;
    return response;
  }

  /** The registration request the spec's "start a session" sends, with this key's proof. */
  async register(proof = this.registrationProof()): Promise<Response> {
    const response = await this.fetch(this.lastRegistration!.path, { method: "POST", headers: { "secure-session-response": `"${proof}"` } });
    if (response.status === 200) {
      const body = (await response.clone().json()) as { session_identifier: string; refresh_url: string };
      this.sessionId = body.session_identifier;
      this.refreshUrl = body.refresh_url;
    }
    return response;
  }

  registrationProof(key: DbscKey = this.key): string {
    const offer = this.lastRegistration!;
    return key.proof({ aud: this.base + offer.path, jti: offer.challenge, iat: Math.floor(Date.now() / 1000), key: this.key.jwk });
  }

  /** Step one of a refresh: the server answers 403 with a challenge. */
  async challenge(): Promise<string> {
    const response = await this.fetch(this.refreshUrl!, { method: "POST", headers: { "sec-secure-session-id": `"${this.sessionId}"` } });
    if (response.status !== 403) throw new Error(`expected a challenge, got ${response.status}`);
    const match = /^"([^"]*)";id="([^"]*)"$/.exec(response.headers.get("secure-session-challenge") ?? "");
    if (!match || match[2] !== this.sessionId) throw new Error(`bad challenge header ${response.headers.get("secure-session-challenge")}`);
    return match[1]!;
  }

  refreshProof(challenge: string, key: DbscKey = this.key): string {
    return key.proof({ aud: this.base + this.refreshUrl!, jti: challenge, iat: Math.floor(Date.now() / 1000), sub: this.sessionId });
  }

  /** Step two: the signed challenge. */
  answer(proof: string): Promise<Response> {
    return this.fetch(this.refreshUrl!, {
      method: "POST",
      headers: { "sec-secure-session-id": `"${this.sessionId}"`, "secure-session-response": `"${proof}"` },
    });
  }

  async refresh(): Promise<Response> {
    return this.answer(this.refreshProof(await this.challenge()));
  }

  async me(): Promise<{ userId: string | null; bound: boolean }> {
    return (await (await this.fetch("/me")).json()) as { userId: string | null; bound: boolean };
  }

  /** A copy of everything an infostealer takes from the cookie jar (not the device key). */
  steal(): Browser {
    const thief = new Browser(this.base, this.key.alg);
    for (const [k, v] of this.jar) thief.jar.set(k, v);
    thief.sessionId = this.sessionId;
    thief.refreshUrl = this.refreshUrl;
    return thief;
  }
}

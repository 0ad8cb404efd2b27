/**
 * The registration and refresh endpoints, one transport-free handler for every adapter
 * (Fetch and node:http forms in http.ts). Order of checks follows the spec's "Server
 * considerations": find the session, check the proof's key and challenge, then issue.
 */
import type { SessionEventType } from "../events.js";
import type { SessionHeader } from "../node-http.js";
import type { Session } from "../session.js";
import { INTERNALS } from "../session.js";
import type { Binding } from "./binding.js";
import { bindingKey, boundCookieAttributes, boundSetCookie, expiredBoundCookie, newBinding } from "./binding.js";
import type { SessionInstructions } from "./headers.js";
import {
  CHALLENGE_HEADER,
  RESPONSE_HEADERS,
  SESSION_ID_HEADERS,
  challengeHeaderValue,
  endInstructions,
  parseSfString,
  sessionInstructions,
} from "./headers.js";
import type { Proof } from "./jwt.js";
import { parseProof, verifyProof } from "./jwt.js";
import type { ResolvedDbsc } from "./options.js";
import { issueChallenge, openChallenge, registrationKey } from "./tokens.js";

/** What the endpoints need of the SessionManager (its DBSC_HOST member; not part of the package API). */
export interface DbscHost {
  readonly dbsc: ResolvedDbsc;
  now(): number;
  /** The session the cookie names, without the bound-cookie check of the load path (a refresh comes without one). */
  find(cookieHeader: string | undefined, secure: boolean): Promise<Session<object> | null>;
  /** Marks a challenge used until `expiresAt`; false when it was used already (a replay). Atomic in every store. */
  consume(challenge: string, expiresAt: number): Promise<boolean>;
  commit(session: Session<object>): Promise<SessionHeader[]>;
  emit(type: SessionEventType, session: Session<object>): void;
}

/** The request as the handler sees it: header names are looked up lower-case. */
export interface DbscRequest {
  method: string;
  /** The path without the query. */
  path: string;
  header(name: string): string | null | undefined;
  /** Over HTTPS: decides the bound cookie's Secure attribute. */
  secure: boolean;
}

export interface DbscReply {
  status: number;
  headers: SessionHeader[];
  body: string;
}

/** Registered, so an adapter finds it on a manager from another copy of this module. */
export const DBSC_HOST: unique symbol = Symbol.for("sessionkit.dbscHost");

export function isDbscPath(dbsc: ResolvedDbsc, path: string): boolean {
  return path === dbsc.registrationPath || path === dbsc.refreshPath;
}

/** The reply for a DBSC endpoint, or null when the request is for another path. */
export async function handleDbsc(host: DbscHost, request: DbscRequest): Promise<DbscReply | null> {
  const { dbsc } = host;
  if (!isDbscPath(dbsc, request.path)) return null;
  if (request.method !== "POST") return reply(405, [["allow", "POST"]], "");
  return request.path === dbsc.registrationPath ? register(host, request) : refresh(host, request);
}

async function register(host: DbscHost, request: DbscRequest): Promise<DbscReply> {
  const { dbsc } = host;
  const jwt = parseSfString(firstHeader(request, RESPONSE_HEADERS));
  if (!jwt) return reply(400, [], "");
  const session = await host.find(request.header("cookie") ?? undefined, request.secure);
  const state = session?.[INTERNALS];
  const user = state?.user;
  // Only a signed-in session binds, and only once: a key is never replaced by another one,
  // so a thief holding the session cookie cannot re-bind a bound session to a key of their own.
  if (!session || !state || !user || user.binding || !state.token) return reply(403, [], "");
  const now = host.now();
  // The challenge's key derives from the token, which a cookie thief holds too: what bounds a
  // thief's chance to bind an unbound session to their own key is this window after sign-in.
  if (now > user.signedInAt + dbsc.challengeLifetime) return reply(403, [], "");
  const proof = parseProof(jwt, dbsc.algorithms);
  const expiresAt = proof?.jwk ? openChallenge(registrationKey(state.token), "register", "", proof.payload.jti, now) : null;
  if (!proof?.jwk || expiresAt === null || !audienceFits(proof, dbsc.registrationPath) || !verifyProof(proof, proof.jwk, proof.alg)) {
    return failed(host, session);
  }
  if (!(await host.consume(proof.payload.jti as string, expiresAt))) return failed(host, session);
  const binding = newBinding(proof.alg, proof.jwk);
  user.binding = binding;
  state.status = "modified";
  const headers = await host.commit(session);
  host.emit("bound", session);
  return instructions(dbsc, binding, now, request.secure, headers);
}

async function refresh(host: DbscHost, request: DbscRequest): Promise<DbscReply> {
  const { dbsc } = host;
  const sessionId = parseSfString(firstHeader(request, SESSION_ID_HEADERS));
  if (!sessionId) return reply(400, [], "");
  const session = await host.find(request.header("cookie") ?? undefined, request.secure);
  const binding = session?.[INTERNALS].user?.binding;
  // Signed out, revoked, expired, or a session this cookie does not carry: tell the browser to stop.
  if (!session || !binding || binding.i !== sessionId) {
    return reply(200, [["set-cookie", expiredBoundCookie(dbsc, request.secure)]], json(endInstructions(sessionId)));
  }
  const jwt = parseSfString(firstHeader(request, RESPONSE_HEADERS));
  const now = host.now();
  if (!jwt) return challenge(dbsc, binding, now);
  const proof = parseProof(jwt, [binding.a]);
  if (!proof || !verifyProof(proof, binding.k, binding.a) || !audienceFits(proof, dbsc.refreshPath)) return failed(host, session);
  if (proof.payload.sub !== undefined && proof.payload.sub !== binding.i) return failed(host, session);
  const expiresAt = openChallenge(bindingKey(binding), "refresh", binding.i, proof.payload.jti, now);
  // Signed by the device but over an expired or foreign challenge: a late answer, so a new one.
  if (expiresAt === null) return challenge(dbsc, binding, now);
  if (!(await host.consume(proof.payload.jti as string, expiresAt))) {
    host.emit("binding-failed", session);
    return challenge(dbsc, binding, now);
  }
  return instructions(dbsc, binding, now, request.secure, []);
}

function challenge(dbsc: ResolvedDbsc, binding: Binding, now: number): DbscReply {
  const value = issueChallenge(bindingKey(binding), "refresh", binding.i, now + dbsc.challengeLifetime);
  return reply(403, [[CHALLENGE_HEADER, challengeHeaderValue(value, binding.i)]], "");
}

function failed(host: DbscHost, session: Session<object>): DbscReply {
  host.emit("binding-failed", session);
  return reply(403, [], "");
}

function instructions(dbsc: ResolvedDbsc, binding: Binding, now: number, secure: boolean, headers: SessionHeader[]): DbscReply {
  const body = sessionInstructions(binding.i, dbsc.refreshPath, dbsc.cookieName, boundCookieAttributes(secure));
  return reply(200, [...headers, ["set-cookie", boundSetCookie(dbsc, binding, now, secure)]], json(body));
}

/** `aud` is optional in what browsers send; when present it must name this endpoint (a proof for another URL is refused). */
function audienceFits(proof: Proof, path: string): boolean {
  const aud = proof.payload.aud;
  if (aud === undefined) return true;
  if (typeof aud !== "string") return false;
  try {
    return new URL(aud, "http://x").pathname === path;
  } catch {
    return false;
  }
}

function firstHeader(request: DbscRequest, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = request.header(name);
    if (value) return value;
  }
  return undefined;
}

function json(body: SessionInstructions): string {
  return JSON.stringify(body);
}

/** Every DBSC reply is per-user and must never be stored by a shared cache (RFC 9111 section 5.2.2.5). */
function reply(status: number, headers: SessionHeader[], body: string): DbscReply {
  const all: SessionHeader[] = [...headers, ["cache-control", "private, no-store"]];
  if (body) all.push(["content-type", "application/json"]);
  return { status, headers: all, body };
}

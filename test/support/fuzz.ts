/**
 * Cookie-header fuzzing through one real Express server that mounts two managers: /signed (HMAC
 * signed ids in a MemoryStore, with express-session migration from a legacy store signed with
 * "keyboard cat") and /sealed (CookieStore). Used by test/fuzz.test.ts (CI) and bench/fuzz.ts
 * (`npm run fuzz`). Every answer must be 2xx and nothing may throw uncaught. The migration is
 * given an unanchored sidPattern, and a legacy id holding "/", "\\" or ".." that reaches the
 * legacy store counts as an error: the mutations include such ids signed with the known secret,
 * duplicate and junk session cookies next to real ones, and duplicate legacy cookies.
 */
import { createHmac, randomBytes } from "node:crypto";
import { request } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { connect } from "node:net";
import express from "express";
import type { ErrorRequestHandler } from "express";
import legacySession from "express-session";
import fc from "fast-check";
import { fromExpressSession } from "../../src/adapters/express-session.js";
import { sessionMiddleware } from "../../src/adapters/express.js";
import { SessionManager } from "../../src/core/manager.js";
import { CookieStore } from "../../src/stores/cookie.js";
import { MemoryStore } from "../../src/stores/memory.js";

const SIGNING_SECRETS = ["fuzz signing secret: 4d0e9b7a2c18f365", "fuzz older secret: 8a3f1c6e0b29d754"];
const SEALING_SECRET = "fuzz sealing secret: e61b0a9d4c7f2853";
const LEGACY_SECRET = "keyboard cat";
const LEGACY_SESSIONS = 64;
// A signed seed lives until a case regenerates or destroys it; a sealed one cannot be revoked.
const SIGNED_SEEDS = 256;
const SEALED_SEEDS = 32;
// read and write more often than regenerate and destroy, which use up a seed session.
const PATHS = ["/signed/read", "/signed/read", "/signed/write", "/signed/write", "/signed/regenerate", "/signed/destroy", "/sealed/read", "/sealed/write", "/sealed/destroy"];

export interface FuzzCase {
  path: string;
  cookie: string;
}

export interface FuzzServer {
  /** Cookies of live sessions of each kind, the seeds the mutations start from. */
  seeds: { sid: string[]; csid: string[]; legacy: string[] };
  /** Errors that reached Express's error handler, or escaped as uncaught exceptions/rejections. */
  errors: unknown[];
  /** How deep the cases reached: existing sessions loaded per mount, legacy sessions migrated. */
  reached: { signed: number; sealed: number; migrated: number };
  send(fuzz: FuzzCase): Promise<number>;
  close(): Promise<void>;
}

function routes(app: express.Express, prefix: "signed" | "sealed", manager: SessionManager<Record<string, unknown>>, reached: FuzzServer["reached"]): void {
  app.use(`/${prefix}`, sessionMiddleware(manager), (req, _res, next) => {
    if (!req.session.isNew) reached[prefix]++;
    else if (req.session.get("user") !== undefined) reached.migrated++; // a new id with data: taken from the legacy store
    next();
  });
  app.get(`/${prefix}/read`, (req, res) => {
    res.json(req.session.toJSON());
  });
  app.get(`/${prefix}/write`, (req, res) => {
    req.session.set("n", ((req.session.get("n") as number | undefined) ?? 0) + 1);
    res.send("ok");
  });
  app.get(`/${prefix}/regenerate`, async (req, res) => {
    await req.session.regenerate();
    res.send("ok");
  });
  app.get(`/${prefix}/destroy`, async (req, res) => {
    await req.session.destroy();
    res.send("ok");
  });
}

export async function startFuzzServer(): Promise<FuzzServer> {
  const errors: unknown[] = [];
  const onUncaught = (error: unknown) => errors.push(error);
  process.on("uncaughtException", onUncaught);
  process.on("unhandledRejection", onUncaught);

  const legacyStore = new legacySession.MemoryStore();
  const watch = (sid: string) => {
    if (/[/\\]|\.\./.test(sid)) errors.push(new Error(`a hostile legacy id reached the legacy store: ${JSON.stringify(sid)}`));
  };
  const watched = {
    get: (sid: string, done: Parameters<typeof legacyStore.get>[1]) => (watch(sid), legacyStore.get(sid, done)),
    destroy: (sid: string, done: (error?: unknown) => void) => (watch(sid), legacyStore.destroy(sid, done)),
  };
  // Unanchored on purpose (issue 31): the migration must match it against the whole id.
  const migrateFrom = fromExpressSession({ store: watched, secret: LEGACY_SECRET, sidPattern: /[A-Za-z0-9_-]{32}/ });
  const signed = new SessionManager<Record<string, unknown>>({ store: new MemoryStore(), secrets: SIGNING_SECRETS, gcInterval: 0, migrateFrom });
  const sealed = new SessionManager<Record<string, unknown>>({ store: new CookieStore({ secrets: [SEALING_SECRET] }), cookie: { name: "csid" } });
  const app = express();
  const reached = { signed: 0, sealed: 0, migrated: 0 };
  routes(app, "signed", signed, reached);
  routes(app, "sealed", sealed, reached);
  const recordError: ErrorRequestHandler = (error, _req, res, _next) => {
    errors.push(error);
    res.status(500).send("error");
  };
  app.use(recordError);

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const connections = Array.from({ length: CONNECTIONS }, () => new PipelinedConnection(port));
  let turn = 0;
  const send = ({ path, cookie }: FuzzCase) => connections[turn++ % CONNECTIONS]!.send(path, cookie);

  const seeds = { sid: [] as string[], csid: [] as string[], legacy: [] as string[] };
  for (let i = 0; i < SIGNED_SEEDS; i++) seeds.sid.push(await loginCookie(port, "/signed/write", "sid"));
  for (let i = 0; i < SEALED_SEEDS; i++) seeds.csid.push(await loginCookie(port, "/sealed/write", "csid"));
  for (let i = 0; i < LEGACY_SESSIONS; i++) {
    const sid = randomBytes(24).toString("base64url");
    await new Promise<void>((resolve) => legacyStore.set(sid, { cookie: { expires: null }, user: `legacy${i}` }, () => resolve()));
    seeds.legacy.push(legacyCookieValue(sid));
  }

  return {
    seeds,
    errors,
    reached,
    send,
    close: async () => {
      process.off("uncaughtException", onUncaught);
      process.off("unhandledRejection", onUncaught);
      for (const connection of connections) connection.close();
      await signed.close();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

function loginCookie(port: number, path: string, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path }, (res) => {
      res.resume();
      const line = (res.headers["set-cookie"] ?? []).find((c) => c.startsWith(`${name}=`));
      res.on("end", () => (line ? resolve(line.split(";")[0]!.slice(name.length + 1)) : reject(new Error(`no ${name} cookie`))));
    });
    req.on("error", reject);
    req.end();
  });
}

const CONNECTIONS = 4;

/**
 * A keep-alive HTTP/1.1 connection with pipelining (RFC 9112 section 9.3): requests go out
 * without waiting, responses come back in order. node:http's client cost as much CPU per request
 * as the server under test; this one parses only the status line and Content-Length, which every
 * Express answer here carries.
 */
class PipelinedConnection {
  readonly #socket: Socket;
  readonly #waiting: Array<{ resolve: (status: number) => void; reject: (error: Error) => void }> = [];
  #buffer: Buffer = Buffer.alloc(0);

  constructor(port: number) {
    this.#socket = connect(port, "127.0.0.1");
    this.#socket.setNoDelay(true);
    this.#socket.on("data", (chunk: Buffer) => this.#received(chunk));
    const fail = (error?: Error) => {
      for (const waiter of this.#waiting.splice(0)) waiter.reject(error ?? new Error("the server closed the connection"));
    };
    this.#socket.on("error", fail);
    this.#socket.on("close", () => fail());
  }

  send(path: string, cookie: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\n\r\n`, "latin1");
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #received(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const headEnd = this.#buffer.indexOf("\r\n\r\n");
      if (headEnd === -1) return;
      const head = this.#buffer.toString("latin1", 0, headEnd);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      const end = headEnd + 4 + length;
      if (this.#buffer.length < end) return;
      this.#buffer = this.#buffer.subarray(end);
      this.#waiting.shift()?.resolve(Number(head.slice(9, 12)));
    }
  }
}

/** express-session's cookie value: "s:" + id + "." + base64 HMAC, percent-encoded. */
function legacyCookieValue(sid: string): string {
  const signature = createHmac("sha256", LEGACY_SECRET).update(sid).digest("base64").replace(/=+$/, "");
  return encodeURIComponent(`s:${sid}.${signature}`);
}

// Node's HTTP client refuses header values outside tab, 0x20-0x7e and 0x80-0xff (RFC 9110 field-value).
const headerChar = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
  { weight: 1, arbitrary: fc.constantFrom(0x09, 0x80, 0xa0, 0xc3, 0xff) },
).map((code) => String.fromCharCode(code));
const headerText = (maxLength: number) => fc.array(headerChar, { maxLength }).map((chars) => chars.join(""));
const special = fc.constantFrom(";", "=", ",", " ", '"', "%", "%00", "%zz", ".", "s:", "|", "\t", "\\");

/** A seed value changed a little: the mutations a tampering client or a broken proxy makes. */
function mutated(value: string): fc.Arbitrary<string> {
  const at = fc.nat(Math.max(0, value.length));
  return fc.oneof(
    { weight: 5, arbitrary: fc.constant(value) }, // intact: the session must still load among the noise
    { weight: 1, arbitrary: at.map((i) => value.slice(0, i)) },
    { weight: 1, arbitrary: fc.tuple(at, headerChar).map(([i, c]) => value.slice(0, i) + c + value.slice(i + 1)) },
    { weight: 1, arbitrary: fc.tuple(at, special).map(([i, s]) => value.slice(0, i) + s + value.slice(i)) },
    { weight: 1, arbitrary: fc.tuple(at, fc.nat(63)).map(([i, bit]) => value.slice(0, i) + String.fromCharCode(value.charCodeAt(i) ^ (1 << (bit % 7))) + value.slice(i + 1)) },
    { weight: 1, arbitrary: fc.constantFrom(`"${value}"`, `${value}.${value}`, `${value}${value}`, value.toUpperCase(), ` ${value} `, encodeURIComponent(value), `s:${value}`) },
  );
}

// Signed with the known legacy secret, so only the id check stands between them and the store.
const HOSTILE_LEGACY_IDS = [`${"A".repeat(32)}/../../config`, `../${"B".repeat(32)}`, `${"C".repeat(32)}\\..\\x`, `${"D".repeat(16)}..${"D".repeat(16)}`, "../config"];

/**
 * Several values of one cookie name (issue 31): junk beside a real session (which must still
 * load), two real sessions (which load neither), more than eight values, and the same for the
 * legacy cookie; plus hostile legacy ids signed with the known secret.
 */
function duplicates(seeds: FuzzServer["seeds"]): fc.Arbitrary<string> {
  const junk = fc.oneof(fc.constantFrom("x", "A".repeat(43), `${seeds.sid[0]!.slice(0, -3)}AAA`), headerText(60).map((t) => t.replace(/[;,]/g, "")));
  const both = <T>(a: T, b: T, flip: boolean) => (flip ? [b, a] : [a, b]);
  const twoOf = (name: string, values: string[], other: fc.Arbitrary<string>) =>
    fc.tuple(fc.constantFrom(...values), other, fc.boolean()).map(([real, extra, flip]) => both(`${name}=${real}`, `${name}=${extra}`, flip).join("; "));
  return fc.oneof(
    twoOf("sid", seeds.sid, junk),
    twoOf("sid", seeds.sid, fc.constantFrom(...seeds.sid)),
    twoOf("csid", seeds.csid, junk),
    twoOf("csid", seeds.csid, fc.constantFrom(...seeds.csid)),
    twoOf("connect.sid", seeds.legacy, junk),
    twoOf("connect.sid", seeds.legacy, fc.constantFrom(...seeds.legacy)),
    fc.tuple(fc.constantFrom(...seeds.sid), fc.array(junk, { minLength: 7, maxLength: 10 })).map(([real, extra]) => [...extra, real].map((v) => `sid=${v}`).join("; ")),
    fc.constantFrom(...HOSTILE_LEGACY_IDS).map((id) => `connect.sid=${legacyCookieValue(id)}`),
  );
}

function pair(seeds: FuzzServer["seeds"]): fc.Arbitrary<string> {
  // Mostly a seed under its own name, so intact or slightly broken sessions reach the store and the seal.
  const own = fc.oneof(
    fc.constantFrom(...seeds.sid).chain(mutated).map((v) => `sid=${v}`),
    fc.constantFrom(...seeds.csid).chain(mutated).map((v) => `csid=${v}`),
    fc.constantFrom(...seeds.legacy).chain(mutated).map((v) => `connect.sid=${v}`),
  );
  const name = fc.oneof(fc.constantFrom("sid", "csid", "connect.sid", "__Host-sid", "Sid", "sid ", " csid"), headerText(8));
  const anyValue = fc.oneof(fc.constantFrom(...seeds.sid, ...seeds.csid, ...seeds.legacy).chain(mutated), headerText(120));
  return fc.oneof(
    { weight: 6, arbitrary: own },
    { weight: 3, arbitrary: fc.tuple(name, anyValue).map(([n, v]) => `${n}=${v}`) },
    { weight: 2, arbitrary: duplicates(seeds) },
    { weight: 1, arbitrary: headerText(40) },
  );
}

/** Cookie headers of one to four pairs (duplicates included) joined by varied separators, or raw text. */
export function fuzzCases(seeds: FuzzServer["seeds"]): fc.Arbitrary<FuzzCase> {
  const separator = fc.constantFrom("; ", ";", " ; ", ";;", ", ", "");
  const cookie = fc.oneof(
    { weight: 9, arbitrary: fc.tuple(fc.array(pair(seeds), { minLength: 1, maxLength: 4 }), separator).map(([pairs, sep]) => pairs.join(sep)) },
    { weight: 1, arbitrary: headerText(300) },
  );
  // Bit flips can leave characters Node's client refuses; leading and trailing whitespace is trimmed on the wire.
  const sendable = cookie.map((c) => c.replace(/[^\t\x20-\x7e\x80-\xff]/g, "").trim() || "x=1");
  return fc.record({ path: fc.constantFrom(...PATHS), cookie: sendable });
}

export interface FuzzResult {
  requests: number;
  statuses: Map<number, number>;
  /** The first failing cases (non-2xx), for the report. */
  failures: Array<FuzzCase & { status: number }>;
}

/** Sends `cases` with `concurrency` requests in flight, spread over the pipelined connections. */
export async function runFuzz(
  server: FuzzServer,
  cases: Iterable<FuzzCase>,
  concurrency = 32,
  onProgress?: (done: number) => void,
): Promise<FuzzResult> {
  const result: FuzzResult = { requests: 0, statuses: new Map(), failures: [] };
  const iterator = cases[Symbol.iterator]();
  const worker = async () => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) {
      const status = await server.send(next.value);
      result.requests++;
      result.statuses.set(status, (result.statuses.get(status) ?? 0) + 1);
      if ((status < 200 || status > 299) && result.failures.length < 10) result.failures.push({ ...next.value, status });
      if (onProgress && result.requests % 10_000 === 0) onProgress(result.requests);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return result;
}

/** `total` cases from a fixed seed, drawn in chunks so a long run never holds them all. */
export function* sampledCases(seeds: FuzzServer["seeds"], seed: number, total: number, chunk = 10_000): Generator<FuzzCase> {
  const arbitrary = fuzzCases(seeds);
  for (let done = 0, round = 0; done < total; done += chunk, round++) {
    yield* fc.sample(arbitrary, { seed: seed + round, numRuns: Math.min(chunk, total - done) });
  }
}

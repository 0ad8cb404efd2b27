/**
 * The chaos load: an Express app (sessionkit/express) over the store under test, and N clients
 * that each own a few sessions and write a counter they remember. A fault is injected while the
 * load runs; afterwards every client re-reads its sessions and compares with what it knows:
 * - lost: a 2xx write whose value is not what the store holds (or the session is gone) at the
 *   end, or not what a later write found there (a failover that lost a write and was then
 *   overwritten would hide it from the final read alone),
 * - resurrected: a session whose destroy got a 2xx, but which reads back with data,
 * - the 5xx window: from the fault to the last failed request.
 * A write that got a 5xx is of unknown outcome, so either its value or the previous one is fine.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import type { NextFunction, Request, Response } from "express";
import { sessionMiddleware } from "../../src/adapters/express.js";
import { SessionError } from "../../src/core/errors.js";
import type { SessionManager } from "../../src/core/manager.js";

export interface ChaosReport {
  scenario: string;
  requests: number;
  acknowledgedWrites: number;
  failed: number;
  lost: number;
  resurrected: number;
  /** ms from the fault to the last failed request (0 when nothing failed). */
  window: number;
  /** Failed requests in the last `quietMs` of the run: must be 0 (recovered without an app restart). */
  failedAtEnd: number;
  notes: string[];
}

/** The app the clients talk to: write a counter, read it, regenerate or destroy the session. Errors answer JSON 5xx with their code. */
export function chaosApp(manager: SessionManager): express.Express {
  const app = express();
  app.use(sessionMiddleware(manager));
  app.post("/write/:value", (req, res) => {
    // What the store held before this write: the client checks it against what it was told.
    const previous = req.session.get("counter") ?? null;
    req.session.set("counter", Number(req.params.value));
    res.json({ previous });
  });
  app.get("/read", (req, res) => {
    res.json({ counter: req.session.get("counter") ?? null, isNew: req.session.isNew });
  });
  app.post("/regenerate", async (req, res, next) => {
    try {
      await req.session.regenerate(); // as a sign-in does: new token, same data
      res.json({ ok: true });
    } catch (error) {
      next(error);
    }
  });
  app.post("/signin/:user", async (req, res, next) => {
    try {
      await req.session.signIn(req.params.user); // rotates the token and indexes it under the user
      res.json({ ok: true });
    } catch (error) {
      next(error);
    }
  });
  app.post("/destroy", async (req, res, next) => {
    try {
      await req.session.destroy();
      res.json({ ok: true });
    } catch (error) {
      next(error);
    }
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const code = error instanceof SessionError ? error.code : "ERR_INTERNAL";
    const kind = /did not answer/.test(String((error as Error).message)) ? "timeout" : "error";
    if (!res.headersSent) res.status(503).json({ code, kind, outcome: (error as { outcome?: string }).outcome });
  });
  return app;
}

export async function listenOn(app: express.Express, port = 0): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(port, "127.0.0.1", () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/** One session a client owns: its cookie, the last acknowledged value and the values in doubt after it. */
interface OwnedSession {
  cookie: string | undefined;
  acknowledged: number | undefined;
  inDoubt: number[];
  /** A destroy failed (5xx or cut connection): it may have happened, so finding the session gone is no loss. */
  destroyInDoubt: boolean;
  next: number;
}

export const cookieOf = (response: globalThis.Response) => /^(sid=[^;]*)/.exec(response.headers.getSetCookie()[0] ?? "")?.[1];

export interface LoadOptions {
  url: () => string;
  clients: number;
  sessionsPerClient: number;
  /** One in `destroyEvery` requests destroys a session (then the client starts a new one). 0: never. */
  destroyEvery?: number;
  /**
   * One in `signInEvery` requests signs the session in as its client's user (a new token, the same
   * data, an entry in that user's index); the old token then counts as destroyed. 0: never.
   */
  signInEvery?: number;
  /** Per-request client timeout; a request that takes longer counts as failed. */
  requestTimeoutMs?: number;
}

/** Runs the clients until stop() is called; tracks what each knows. */
export class ChaosLoad {
  readonly #options: Required<LoadOptions>;
  readonly #sessions: OwnedSession[][];
  readonly destroyed: string[] = [];
  readonly failures: number[] = [];
  /** How the failed requests failed: "503 ERR_SESSION_STORE", "network", … with counts. */
  readonly reasons = new Map<string, { count: number; last: number }>();
  requests = 0;
  acknowledgedWrites = 0;
  /** Writes found lost by a later write (its `previous` was neither the last 2xx value nor one in doubt). */
  lostSeen = 0;
  #running = true;
  readonly #bodies = new WeakMap<globalThis.Response, string>();
  #loops: Promise<void>[] = [];

  constructor(options: LoadOptions) {
    this.#options = { destroyEvery: 0, signInEvery: 0, requestTimeoutMs: 10_000, ...options };
    this.#sessions = Array.from({ length: options.clients }, () => Array.from({ length: options.sessionsPerClient }, fresh));
  }

  start(): this {
    this.#loops = this.#sessions.map((owned, client) => this.#client(owned, `user-${client}`));
    return this;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  async #client(owned: OwnedSession[], user: string): Promise<void> {
    let turn = 0;
    const oneIn = (every: number) => every > 0 && Math.random() * every < 1;
    while (this.#running) {
      const session = owned[turn++ % owned.length]!;
      if (session.cookie && oneIn(this.#options.destroyEvery)) await this.#destroy(owned, session);
      else if (session.cookie && oneIn(this.#options.signInEvery)) await this.#signIn(session, user);
      else await this.#write(session);
    }
  }

  async #write(session: OwnedSession): Promise<void> {
    const value = session.next++;
    const response = await this.#send(`/write/${value}`, session.cookie, "POST");
    if (response?.ok) {
      if (session.acknowledged !== undefined && !matches(session, this.#bodies.get(response))) this.lostSeen++;
      // A new cookie means the old session was gone (a destroy in doubt, or a loss counted above).
      session.cookie = cookieOf(response) ?? session.cookie;
      session.acknowledged = value;
      session.inDoubt = [];
      session.destroyInDoubt = false;
      this.acknowledgedWrites++;
    } else if (session.cookie) {
      session.inDoubt.push(value);
    }
  }

  async #destroy(owned: OwnedSession[], session: OwnedSession): Promise<void> {
    const response = await this.#send("/destroy", session.cookie, "POST");
    if (!response?.ok) {
      session.destroyInDoubt = true;
      return;
    }
    this.destroyed.push(session.cookie!);
    owned[owned.indexOf(session)] = fresh();
  }

  /** A failed sign-in may have rotated the token: the old one may be gone, like a destroy in doubt. */
  async #signIn(session: OwnedSession, user: string): Promise<void> {
    const response = await this.#send(`/signin/${user}`, session.cookie, "POST");
    const rotated = response?.ok ? cookieOf(response) : undefined;
    if (!rotated) {
      session.destroyInDoubt = true;
      return;
    }
    this.destroyed.push(session.cookie!);
    session.cookie = rotated;
  }

  async #send(path: string, cookie: string | undefined, method = "GET"): Promise<globalThis.Response | undefined> {
    this.requests++;
    try {
      const response = await fetch(this.#options.url() + path, {
        method,
        headers: cookie ? { cookie } : {},
        signal: AbortSignal.timeout(this.#options.requestTimeoutMs),
      });
      const body = await response.text();
      this.#bodies.set(response, body);
      if (!response.ok) this.#failed(`${response.status} ${/"code":"(\w+)"/.exec(body)?.[1] ?? ""} ${/"kind":"(\w+)"/.exec(body)?.[1] ?? ""}${body.includes('"outcome":"unknown"') ? " outcome unknown" : ""}`);
      return response;
    } catch (error) {
      this.#failed((error as Error).name === "TimeoutError" ? "client timeout" : "network");
      return undefined;
    }
  }

  #failed(reason: string): void {
    this.failures.push(performance.now());
    const seen = this.reasons.get(reason) ?? { count: 0, last: 0 };
    this.reasons.set(reason, { count: seen.count + 1, last: performance.now() });
  }

  /** Re-reads every session (retrying 5xx for up to 30 s) and counts lost writes and resurrected sessions. */
  async verify(): Promise<{ lost: number; resurrected: number }> {
    let lost = 0;
    let resurrected = 0;
    for (const session of this.#sessions.flat()) {
      if (session.acknowledged === undefined) continue;
      const { counter } = await this.#read(session.cookie);
      if (counter === null && session.destroyInDoubt) continue;
      if (counter !== session.acknowledged && !session.inDoubt.includes(counter as number)) lost++;
    }
    lost += this.lostSeen;
    for (const cookie of this.destroyed) if ((await this.#read(cookie)).counter !== null) resurrected++;
    return { lost, resurrected };
  }

  async #read(cookie: string | undefined): Promise<{ counter: unknown }> {
    const until = performance.now() + 30_000;
    for (;;) {
      try {
        const response = await fetch(`${this.#options.url()}/read`, { headers: cookie ? { cookie } : {} });
        if (response.ok) return (await response.json()) as { counter: unknown };
      } catch {
        // retried below
      }
      if (performance.now() > until) throw new Error("could not re-read a session for 30 s after the fault");
      await sleep(100);
    }
  }
}

/** The value a write found in the store is the last acknowledged one, or one whose outcome was unknown. */
function matches(session: OwnedSession, body: string | undefined): boolean {
  const { previous } = JSON.parse(body ?? "{}") as { previous?: number | null };
  if (previous === null && session.destroyInDoubt) return true;
  return previous === session.acknowledged || session.inDoubt.includes(previous as number);
}

function fresh(): OwnedSession {
  return { cookie: undefined, acknowledged: undefined, inDoubt: [], destroyInDoubt: false, next: 1 };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Progress on stderr, so a long run shows it is alive without mixing with the report on stdout. */
export function progress(message: string): void {
  process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export interface RunOptions extends Omit<LoadOptions, "url"> {
  scenario: string;
  url: () => string;
  /** Load before the fault. */
  warmupMs: number;
  /** The fault; resolves when it is over (server back, failover done). */
  fault: () => Promise<void>;
  /** Load kept running after the fault, the last `quietMs` of which must be free of failures. */
  afterMs: number;
  quietMs?: number;
}

/** Warm up, inject the fault under load, keep loading, stop, verify. */
export async function runScenario(options: RunOptions): Promise<ChaosReport> {
  const load = new ChaosLoad(options).start();
  const notes: string[] = [];
  await sleep(options.warmupMs);
  const faultAt = performance.now();
  progress(`${options.scenario}: fault after ${load.requests} requests`);
  await options.fault();
  progress(`${options.scenario}: fault over after ${(performance.now() - faultAt).toFixed(0)} ms`);
  await sleep(options.afterMs);
  const endedAt = performance.now();
  await load.stop();
  const { lost, resurrected } = await load.verify();
  const last = load.failures.at(-1);
  const quietMs = options.quietMs ?? Math.min(2000, options.afterMs);
  const report: ChaosReport = {
    scenario: options.scenario,
    requests: load.requests,
    acknowledgedWrites: load.acknowledgedWrites,
    failed: load.failures.length,
    lost,
    resurrected,
    window: last === undefined ? 0 : Math.max(0, Math.round(last - faultAt)),
    failedAtEnd: load.failures.filter((at) => at > endedAt - quietMs).length,
    notes,
  };
  if (last !== undefined) notes.push(`failed from +${Math.round(load.failures[0]! - faultAt)} to +${Math.round(last - faultAt)} ms`);
  if (load.reasons.size > 0) notes.push(`failures: ${[...load.reasons].map(([reason, { count, last }]) => `${count}× ${reason} (last +${Math.round(last - faultAt)} ms)`).join(", ")}`);
  progress(`${options.scenario}: ${JSON.stringify(report)}`);
  return report;
}

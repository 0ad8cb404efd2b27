import type { Duration } from "../duration.js";
import { toMilliseconds } from "../duration.js";
import type { DbscAlgorithm } from "./jwt.js";
import { DBSC_ALGORITHMS } from "./jwt.js";

/** Device Bound Session Credentials (option `dbsc`): see docs/security.md, "Stolen cookies". */
export interface DbscOptions {
  /** Where the browser POSTs its registration proof. Default "/.sessionkit/dbsc/register". */
  registrationPath?: string;
  /** Where the browser POSTs to renew the bound cookie (the `refresh_url`). Default "/.sessionkit/dbsc/refresh". */
  refreshPath?: string;
  /**
   * The short-lived cookie a bound session loads only with. Default name "sk_bound" and
   * maxAge "10m": a stolen copy dies within ten minutes, at the cost of one refresh request
   * (one signature check) per ten minutes of use.
   */
  boundCookie?: { name?: string; maxAge?: Duration };
  /** The signature algorithms offered, in order of preference. Default ["ES256", "RS256"], all the spec allows. */
  algorithms?: DbscAlgorithm[];
}

export interface ResolvedDbsc {
  registrationPath: string;
  refreshPath: string;
  cookieName: string;
  /** Bound-cookie lifetime in milliseconds. */
  cookieMaxAge: number;
  algorithms: readonly DbscAlgorithm[];
  /** How long a challenge may be answered: long enough for a slow TPM, short enough to bound a replay window. */
  challengeLifetime: number;
}

const PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function resolveDbsc(options: DbscOptions | false | undefined, tokenInHeader: boolean): ResolvedDbsc | undefined {
  if (options === undefined || options === false) return undefined;
  if (options === null || typeof options !== "object") throw new TypeError('option "dbsc" must be an object ({} for the defaults) or false');
  if (tokenInHeader) throw new TypeError('option "dbsc" binds cookies: it cannot be used with option "header"');
  const registrationPath = checkPath(options.registrationPath ?? "/.sessionkit/dbsc/register", "registrationPath");
  const refreshPath = checkPath(options.refreshPath ?? "/.sessionkit/dbsc/refresh", "refreshPath");
  if (registrationPath === refreshPath) throw new TypeError('option "dbsc": registrationPath and refreshPath must differ');
  const cookieName = options.boundCookie?.name ?? "sk_bound";
  if (typeof cookieName !== "string" || !COOKIE_NAME.test(cookieName)) {
    throw new TypeError(`option "dbsc.boundCookie.name" must be a cookie name; got ${JSON.stringify(cookieName)}`);
  }
  const cookieMaxAge = toMilliseconds(options.boundCookie?.maxAge ?? "10m", "dbsc.boundCookie.maxAge");
  if (cookieMaxAge < 1000) throw new TypeError('option "dbsc.boundCookie.maxAge" must be at least 1 second');
  const algorithms = options.algorithms ?? DBSC_ALGORITHMS;
  if (!Array.isArray(algorithms) || algorithms.length === 0 || algorithms.some((alg) => !DBSC_ALGORITHMS.includes(alg))) {
    throw new TypeError('option "dbsc.algorithms" must be a non-empty list of "ES256" and "RS256"');
  }
  return { registrationPath, refreshPath, cookieName, cookieMaxAge, algorithms: [...new Set(algorithms)], challengeLifetime: 5 * 60_000 };
}

function checkPath(path: unknown, name: string): string {
  if (typeof path !== "string" || !PATH.test(path)) {
    throw new TypeError(`option "dbsc.${name}" must be an absolute path such as "/dbsc/refresh" (no query); got ${JSON.stringify(path)}`);
  }
  return path;
}

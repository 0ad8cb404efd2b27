/** Where a request carries its session token: the session cookie, or a header in header mode. */
import type { IncomingHttpHeaders } from "node:http";
import type { ManagerContext } from "./context.js";
import { readCookieCandidates } from "./cookie-candidates.js";
import { warnOnce } from "./warnings.js";

/** A token, or the different values of the session cookie when there are several (see cookie-candidates.ts). */
export type TokenCandidates = string | readonly string[] | null | undefined;

export function nodeToken(ctx: ManagerContext, headers: IncomingHttpHeaders): TokenCandidates {
  const { header } = ctx.options;
  if (header) {
    const value = headers[header];
    return Array.isArray(value) ? value[0] : value;
  }
  return cookieToken(ctx, headers.cookie);
}

export function fetchToken(ctx: ManagerContext, headers: Headers, cookieHeader: string | undefined): TokenCandidates {
  const { header } = ctx.options;
  return header ? headers.get(header) : cookieToken(ctx, cookieHeader);
}

function cookieToken(ctx: ManagerContext, cookieHeader: string | undefined): string | string[] | undefined {
  return readCookieCandidates(cookieHeader, ctx.options.cookie.name);
}

/** Reported to onEvent when the app listens (handle "": no session was loaded), else warned once. */
export function ambiguous(ctx: ManagerContext, name = ctx.options.cookie.name): void {
  if (ctx.options.onEvent) return ctx.emit("ambiguous-cookie", "", undefined);
  warnOnce(
    "SESSIONKIT_AMBIGUOUS_COOKIE",
    `sessionkit: a request carried more than one "${name}" cookie with different values that verify, or more than 8 values (one planted from a sibling subdomain, or stale); ` +
      "none was loaded, the request got a fresh session. Name the cookie __Host-sid (the default with cookie.secure: true) so no other host can set it.",
  );
}

/** Where a request carries its session token: the session cookie, or a header in header mode. */
import type { IncomingHttpHeaders } from "node:http";
import type { ManagerContext } from "./context.js";
import { readSessionCookie } from "./cookies.js";
import { warnOnce } from "./warnings.js";

export function nodeToken(ctx: ManagerContext, headers: IncomingHttpHeaders): string | undefined {
  const { header } = ctx.options;
  if (header) {
    const value = headers[header];
    return Array.isArray(value) ? value[0] : value;
  }
  return cookieToken(ctx, headers.cookie);
}

export function fetchToken(ctx: ManagerContext, headers: Headers, cookieHeader: string | undefined): string | null | undefined {
  const { header } = ctx.options;
  return header ? headers.get(header) : cookieToken(ctx, cookieHeader);
}

/** Two different cookies of the session's name load neither (see readSessionCookie). */
function cookieToken(ctx: ManagerContext, cookieHeader: string | undefined): string | undefined {
  const found = readSessionCookie(cookieHeader, ctx.options.cookie.name);
  if (found.ambiguous) ambiguous(ctx);
  return found.value;
}

/** Reported to onEvent when the app listens (handle "": no session was loaded), else warned once. */
function ambiguous(ctx: ManagerContext): void {
  if (ctx.options.onEvent) return ctx.emit("ambiguous-cookie", "", undefined);
  const { name } = ctx.options.cookie;
  warnOnce(
    "SESSIONKIT_AMBIGUOUS_COOKIE",
    `sessionkit: a request carried more than one "${name}" cookie with different values (one planted from a sibling subdomain, or stale); ` +
      "neither was loaded, the request got a fresh session. Name the cookie __Host-sid (the default with cookie.secure: true) so no other host can set it.",
  );
}

/** The headers a commit sends: the session cookie (or token header), or its expiry. */
import type { ManagerContext } from "./context.js";
import { serializeExpiredCookie, serializeSessionCookie } from "./cookies.js";
import { generateToken, signToken } from "./ids.js";
import type { SessionHeader } from "./node-http.js";
import type { SessionInternals } from "./session.js";
import { isSecure } from "./session.js";
import { warnInsecureCookie } from "./warnings.js";

/**
 * The cookie lives until the absolute deadline, as SCS's does: the idle expiry is enforced by
 * the server, so the cookie need not be re-sent whenever the idle window slides. It is sent
 * only for a new id, a re-signed token, or (cookie sessions) new sealed content.
 */
export function cookieHeaders(ctx: ManagerContext, state: SessionInternals, now: number, sealed?: string): SessionHeader[] {
  const { cookie, header } = ctx.options;
  const value = sealed ?? tokenValue(ctx, state);
  if (header) return [[header, value]];
  const secure = isSecure(state);
  if (!secure && ctx.inProduction) warnInsecureCookie(cookie.name);
  const lifetime = state.user?.lifetime;
  const persistent = lifetime?.persistent ?? cookie.persistent;
  const absolute = ctx.absoluteOf(lifetime);
  const maxAge = persistent ? Math.max(0, Math.round((state.createdAt + absolute - now) / 1000)) : undefined;
  return [["set-cookie", serializeSessionCookie(cookie, value, maxAge, secure)]];
}

/** Tells the client to drop the session cookie (or token), once. */
export function expireHeaders(ctx: ManagerContext, state: SessionInternals): SessionHeader[] {
  if (!state.clientHasCookie) return [];
  state.clientHasCookie = false;
  const { header, cookie } = ctx.options;
  if (header) return [[header, ""]];
  return [["set-cookie", serializeExpiredCookie(cookie, isSecure(state))]];
}

function tokenValue(ctx: ManagerContext, state: SessionInternals): string {
  const token = (state.token ??= generateToken());
  return ctx.options.secrets ? signToken(token, ctx.options.secrets) : token;
}

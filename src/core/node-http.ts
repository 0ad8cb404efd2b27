import type { IncomingMessage, ServerResponse } from "node:http";

/** A response header to send: ["set-cookie", value] or [options.header, token]. */
export type SessionHeader = [name: string, value: string];

/** Express and Koa compute `req.secure` from their trust-proxy setting; plain node:http knows only TLS. */
export function isSecureRequest(req: IncomingMessage): boolean {
  const { secure } = req as { secure?: unknown };
  return typeof secure === "boolean" ? secure : (req.socket as { encrypted?: boolean }).encrypted === true;
}

/**
 * The Cache-Control a response carrying a session token must have, given the one the app or
 * framework set (undefined: leave it). A shared cache must never hand one user's session cookie to
 * another (RFC 9111 section 5.2.2.5 no-store, 5.2.2.7 private): the app's value stays only when it
 * already has `no-store` or an unqualified `private`; anything else (`public, max-age=300` from the
 * app, `public, max-age=0` from express.static) becomes `private, no-store`. No value at all: `no-store`.
 */
export function sessionCacheControl(current: string | number | readonly string[] | null | undefined): string | undefined {
  if (current === undefined || current === null) return "no-store";
  const value = Array.isArray(current) ? current.join(",") : String(current);
  for (const directive of value.toLowerCase().split(",")) {
    const name = directive.trim();
    if (name === "no-store" || name === "private") return undefined;
  }
  return "private, no-store";
}

/** Appends session headers to Fetch `Headers` and makes the response unstorable by shared caches. */
export function applyFetchHeaders(target: Headers, headers: SessionHeader[]): void {
  if (headers.length === 0) return;
  for (const [name, value] of headers) target.append(name, value);
  const cacheControl = sessionCacheControl(target.get("cache-control"));
  if (cacheControl) target.set("cache-control", cacheControl);
}

/** Sets session headers on a node:http response and makes the response unstorable by shared caches. */
export function applyNodeHeaders(res: ServerResponse, headers: SessionHeader[]): void {
  if (headers.length === 0) return;
  for (const [name, value] of headers) {
    if (name === "set-cookie") res.appendHeader("set-cookie", value);
    else res.setHeader(name, value);
  }
  const cacheControl = sessionCacheControl(res.getHeader("cache-control"));
  if (cacheControl) res.setHeader("cache-control", cacheControl);
}

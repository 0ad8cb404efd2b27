import type { IncomingMessage, ServerResponse } from "node:http";

/** A response header to send: ["set-cookie", value] or [options.header, token]. */
export type SessionHeader = [name: string, value: string];

/** Express and Koa compute `req.secure` from their trust-proxy setting; plain node:http knows only TLS. */
export function isSecureRequest(req: IncomingMessage): boolean {
  const { secure } = req as { secure?: unknown };
  return typeof secure === "boolean" ? secure : (req.socket as { encrypted?: boolean }).encrypted === true;
}

/** Sets session headers on a node:http response, plus Cache-Control: no-store unless the app chose one. */
export function applyNodeHeaders(res: ServerResponse, headers: SessionHeader[]): void {
  if (headers.length === 0) return;
  for (const [name, value] of headers) {
    if (name === "set-cookie") res.appendHeader("set-cookie", value);
    else res.setHeader(name, value);
  }
  // A shared cache must never hand one user's session cookie to another (RFC 9111 section 5.2.2.5).
  if (!res.hasHeader("cache-control")) res.setHeader("cache-control", "no-store");
}

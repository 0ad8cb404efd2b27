/**
 * The DBSC endpoints over the two request shapes sessionkit's adapters have: a Fetch
 * `Request` (Hono, workers) and a node:http pair (node:http, Express, Koa, Fastify's raw objects).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { DbscHost, DbscReply, DbscRequest } from "./handler.js";
import { DBSC_HOST, handleDbsc, isDbscPath } from "./handler.js";

/** The manager's DBSC side, or undefined when option `dbsc` is off. */
export function dbscHostOf(manager: object): DbscHost | undefined {
  return (manager as { [DBSC_HOST]?: DbscHost })[DBSC_HOST];
}

/** The path of a request target, without its query. */
export function pathOf(url: string | undefined): string {
  if (!url) return "/";
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

/** True when this node request is for a DBSC endpoint of `host`: a string compare, nothing else per request. */
export function isDbscNodeRequest(host: DbscHost | undefined, req: IncomingMessage): host is DbscHost {
  return host !== undefined && isDbscPath(host.dbsc, pathOf(req.url));
}

export function nodeDbscRequest(req: IncomingMessage, secure: boolean): DbscRequest {
  return {
    method: req.method ?? "GET",
    path: pathOf(req.url),
    header: (name) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    },
    secure,
  };
}

/** Answers a DBSC request on a node:http response; resolves false (nothing sent) for other paths. */
export async function handleDbscNode(host: DbscHost, req: IncomingMessage, res: ServerResponse, secure: boolean): Promise<boolean> {
  const reply = await handleDbsc(host, nodeDbscRequest(req, secure));
  if (!reply) return false;
  writeNodeReply(res, reply);
  return true;
}

export function writeNodeReply(res: ServerResponse, reply: DbscReply): void {
  for (const [name, value] of reply.headers) {
    if (name === "set-cookie") res.appendHeader(name, value);
    else res.setHeader(name, value);
  }
  res.statusCode = reply.status;
  res.end(reply.body);
}

/** Answers a DBSC request as a Fetch Response; null for other paths. */
export async function handleDbscFetch(host: DbscHost, request: Request): Promise<Response | null> {
  const url = new URL(request.url);
  const reply = await handleDbsc(host, {
    method: request.method,
    path: url.pathname,
    header: (name) => request.headers.get(name),
    secure: url.protocol === "https:",
  });
  if (!reply) return null;
  const headers = new Headers();
  for (const [name, value] of reply.headers) headers.append(name, value);
  return new Response(reply.body || null, { status: reply.status, headers });
}

/**
 * node:http: answers the DBSC registration and refresh endpoints of `manager` (option `dbsc`).
 * Resolves true when it did (send nothing else), false for any other request. Call it before
 * `manager.start(req)`: the refresh request comes without a bound cookie and must not load as a request would.
 */
export function serveDbsc(manager: object, req: IncomingMessage, res: ServerResponse, options: { secure?: boolean } = {}): Promise<boolean> {
  const host = dbscHostOf(manager);
  if (!isDbscNodeRequest(host, req)) return Promise.resolve(false);
  const secure = options.secure ?? (req.socket as { encrypted?: boolean }).encrypted === true;
  return handleDbscNode(host, req, res, secure);
}

/** Fetch API: the Response for a DBSC endpoint of `manager`, or null for any other request. */
export function serveDbscFetch(manager: object, request: Request): Promise<Response | null> {
  const host = dbscHostOf(manager);
  return host ? handleDbscFetch(host, request) : Promise.resolve(null);
}

/**
 * Fastify 5 plugin: `await app.register(sessionPlugin, { manager })` puts the Session on
 * `request.session`, loaded in onRequest and committed in onSend, as @fastify/session does:
 * framework hooks, no patching of the reply. The store write ends before the response goes out.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { SessionHeader, SessionManager } from "../core/manager.js";
import { sessionCacheControl } from "../core/node-http.js";
import type { Session, SessionData } from "../core/session.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The sessionkit session (null only in scopes without the plugin), typed by `SessionData`. */
    session: Session<SessionData>;
  }
}

export interface SessionPluginOptions<T extends object = SessionData> {
  manager: SessionManager<T>;
}

const pluginBody: FastifyPluginAsync<SessionPluginOptions> = async (scope, { manager }) => {
  if (!manager || typeof manager.prepareCommit !== "function") {
    throw new TypeError('sessionPlugin needs option "manager": a SessionManager');
  }
  // A failed commit sends the error response through onSend again; commit once per request.
  const committed = new WeakSet<FastifyRequest>();
  // Declared up front so every request object has the same shape (Fastify's decorator rule);
  // null until onRequest fills it.
  scope.decorateRequest("session", null as unknown as Session<SessionData>);

  scope.addHook("onRequest", async (request) => {
    const session = await manager.start(request.raw, null, { secure: request.protocol === "https" });
    request.session = session as unknown as Session<SessionData>;
  });

  scope.addHook("onSend", async (request, reply, payload) => {
    // session is null when loading failed and this is the error response for it.
    if (!request.session || committed.has(request)) return payload;
    committed.add(request);
    setReplyHeaders(reply, await manager.commitHeaders(request.session));
    return payload;
  });
};

/**
 * Fastify keeps reply headers apart from the node response until it writes them, so
 * `applyNodeHeaders` cannot be used here; this is its rule on a FastifyReply.
 */
function setReplyHeaders(reply: FastifyReply, headers: SessionHeader[]): void {
  if (headers.length === 0) return;
  for (const [name, value] of headers) reply.header(name, value); // set-cookie values accumulate
  const cacheControl = sessionCacheControl(reply.getHeader("cache-control"));
  if (cacheControl) reply.header("cache-control", cacheControl);
}

/**
 * Marked like fastify-plugin marks a plugin (without depending on it): the hooks join the scope
 * that registers the plugin and its children, not a fresh child scope holding no routes. Sibling
 * and parent scopes stay without a session, which is Fastify's encapsulation.
 */
export const sessionPlugin = Object.assign(pluginBody, {
  [Symbol.for("skip-override")]: true,
  [Symbol.for("fastify.display-name")]: "sessionkit",
}) as FastifyPluginAsync<SessionPluginOptions>;

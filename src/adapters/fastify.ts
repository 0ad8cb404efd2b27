/**
 * Fastify 5 plugin: `await app.register(sessionPlugin, { manager })` puts the Session on
 * `request.session`, loaded in onRequest and committed in onSend, as @fastify/session does:
 * framework hooks, no patching of the reply. The store write ends before the response goes out.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import type { Duration } from "../core/duration.js";
import { toMilliseconds } from "../core/duration.js";
import type { PreparedCommit, SessionHeader, SessionManager } from "../core/manager.js";
import { sessionCacheControl } from "../core/node-http.js";
import type { Session, SessionData } from "../core/session.js";
import { dbscHostOf, isDbscNodeRequest, nodeDbscRequest } from "../core/dbsc/http.js";
import { handleDbsc } from "../core/dbsc/handler.js";
import { checkManager } from "./shared.js";

const COMMITTING = "sessionkitCommitting";

declare module "fastify" {
  interface FastifyRequest {
    /** The sessionkit session (null only in scopes without the plugin), typed by `SessionData`. */
    session: Session<SessionData>;
    /** @internal true once the plugin started committing this request's session. */
    [COMMITTING]: boolean;
  }
}

export interface SessionPluginOptions<T extends object = SessionData> {
  manager: SessionManager<T>;
}

const pluginBody: FastifyPluginAsync<SessionPluginOptions> = async (scope, { manager }) => {
  checkManager(manager, 'sessionPlugin\'s option "manager"');
  // Declared up front so every request object has the same shape (Fastify's decorator rule):
  // filling them per request is a plain store, where a new property or a WeakSet entry per
  // request costs a hidden-class change or garbage-collector work. session is null until onRequest
  // fills it; committing is set once the commit started (a failed commit sends the error response
  // through onSend again, which must not commit a second time).
  scope.decorateRequest("session", null as unknown as Session<SessionData>);
  scope.decorateRequest(COMMITTING, false);

  // Callback-style hooks: with a synchronous store (MemoryStore) no promise is made for them,
  // and the session is there before onRequest returns.
  // The DBSC endpoints (option dbsc) are routes of this scope; onRequest loads no session for them.
  const dbsc = dbscHostOf(manager);
  if (dbsc) {
    for (const url of [dbsc.dbsc.registrationPath, dbsc.dbsc.refreshPath]) {
      scope.post(url, async (request, reply) => {
        const answer = (await handleDbsc(dbsc, nodeDbscRequest(request.raw, request.protocol === "https")))!;
        reply.code(answer.status);
        for (const [name, value] of answer.headers) reply.header(name, value);
        return answer.body;
      });
    }
  }

  scope.addHook("onRequest", (request, _reply, done) => {
    if (isDbscNodeRequest(dbsc, request.raw)) return done();
    manager.start(request.raw, null, { secure: () => request.protocol === "https", device: request }).then((session) => {
      request.session = session as unknown as Session<SessionData>;
      done();
    }, done);
  });

  scope.addHook("onSend", (request, reply, payload, done) => {
    // session is null when loading failed and this is the error response for it.
    if (!request.session || request[COMMITTING]) return done(null, payload);
    request[COMMITTING] = true;
    let prepared: PreparedCommit;
    try {
      prepared = manager.prepareCommit(request.session as unknown as Session<object>);
    } catch (error) {
      return done(error as Error);
    }
    if (!prepared.pending) {
      setReplyHeaders(reply, prepared.headers);
      return done(null, payload);
    }
    prepared.persisted.then(() => {
      setReplyHeaders(reply, prepared.headers);
      done(null, payload);
    }, done);
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

/** What `requireFresh` does with a request whose sign-in is too old (or missing, or by another method). */
export interface RequireFreshOptions {
  /** Only these `signIn`/`reauthenticated` methods count (e.g. ["password", "webauthn"]). */
  methods?: readonly string[];
  /** Default: a 401 "reauthentication required". Redirect to your password-confirmation page instead. */
  onStale?: (request: FastifyRequest, reply: FastifyReply) => unknown;
}

/**
 * A preHandler that guards a sensitive route (change email or password, MFA, "sign out
 * everywhere": OWASP ASVS V7.5.1, V7.5.3): it runs only when the user authenticated within
 * `maxAge` (see Session.isFresh). `{ preHandler: requireFresh("10m") }` on a route of a scope
 * that registered sessionPlugin.
 */
export function requireFresh(maxAge: Duration, options: RequireFreshOptions = {}): preHandlerAsyncHookHandler {
  toMilliseconds(maxAge, "maxAge"); // a bad duration fails here, not at the first request
  const onStale = options.onStale ?? ((_request: FastifyRequest, reply: FastifyReply) => reply.code(401).type("text/plain; charset=utf-8").send("reauthentication required"));
  return async function requireFresh(request, reply) {
    if (request.session?.isFresh(maxAge, options)) return;
    await onStale(request, reply);
    return reply;
  };
}

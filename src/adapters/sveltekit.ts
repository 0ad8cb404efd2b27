/**
 * SvelteKit server hook: `export const handle = sessionHandle(sessions)` in src/hooks.server.ts
 * puts the Session on `event.locals.session` (declare it in App.Locals, see SessionLocals) and
 * commits it before the Response is returned. A failed store write is thrown from `handle`, so
 * SvelteKit's error path (handleError, a 500 page) answers. Typed structurally, so this file
 * does not import @sveltejs/kit at run time and fits SvelteKit 2 and 3.
 */
import type { SessionManager } from "../core/manager.js";
import type { Session, SessionData } from "../core/session.js";
import { checkManager, withMutableHeaders } from "./shared.js";

/** For src/app.d.ts: `interface Locals extends SessionLocals<MySessionData> {}`. */
export interface SessionLocals<T extends object = SessionData> {
  session: Session<T>;
}

/** The part of SvelteKit's RequestEvent the hook uses. */
export interface SvelteKitRequestEvent {
  request: Request;
  locals: object;
  /** The client's address as the adapter sees it (adapter-node: ADDRESS_HEADER / XFF_DEPTH). */
  getClientAddress?: () => string;
}

/**
 * Assignable to SvelteKit's `Handle`, alone and inside `sequence()`. `resolve` may answer
 * synchronously: SvelteKit 2 types it `MaybePromise<Response>`, SvelteKit 3 `Promise<Response>`,
 * and a parameter must accept the wider of the two to fit both.
 */
export type SessionHandle = <E extends SvelteKitRequestEvent>(input: {
  event: E;
  resolve: (event: E) => Response | Promise<Response>;
}) => Promise<Response>;

export function sessionHandle<T extends object = SessionData>(manager: SessionManager<T>): SessionHandle {
  checkManager(manager, "sessionHandle");
  return async function sessionkit({ event, resolve }) {
    const session = await manager.loadRequest(event.request, { ip: clientAddress(event) });
    (event.locals as SessionLocals<T>).session = session;
    // resolve() renders the page, runs load functions and form actions, and returns the Response;
    // a redirect() or error() thrown there has already become that Response.
    const response = withMutableHeaders(await resolve(event));
    await manager.commitResponse(session, response.headers);
    return response;
  };
}

/** For the device list of signed-in sessions; some contexts (prerendering) have no client. */
function clientAddress(event: SvelteKitRequestEvent): string | undefined {
  try {
    return event.getClientAddress?.();
  } catch {
    return undefined;
  }
}

import type { Handle, HandleServerError } from "@sveltejs/kit/hooks";
import { sequence } from "@sveltejs/kit/hooks";
import { MemoryStore, SessionManager } from "sessionkit";
import type { SessionStore, SessionWrite } from "sessionkit";
import { sessionHandle } from "sessionkit/sveltekit";

/** For the test of SvelteKit's error path: a store whose writes fail (SESSION_STORE_DOWN=1). */
class WritesFail extends MemoryStore implements SessionStore {
  override set(_key: string, _write: SessionWrite): boolean {
    throw new Error("store is down (test)");
  }
}

const store = process.env.SESSION_STORE_DOWN ? new WritesFail() : new MemoryStore();
const sessions = new SessionManager({ store });

const session: Handle = sessionHandle(sessions);
/** A hook after the session's, as apps compose them: the session is loaded when it runs. */
const sessionFirst: Handle = ({ event, resolve }) => {
  if (!event.locals.session) throw new Error("the session hook did not run first");
  return resolve(event);
};

export const handle: Handle = sequence(session, sessionFirst);

/** SvelteKit's error path; the status stays SvelteKit's own (500 for an unexpected error). */
export const handleError: HandleServerError = ({ error }) => {
  const code = (error as { code?: string }).code ?? "unknown";
  console.error(`handleError ${code}`);
  return { message: `session error ${code}` };
};

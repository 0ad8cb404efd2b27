import type { Handle, HandleServerError } from "@sveltejs/kit/hooks";
import { sequence } from "@sveltejs/kit/hooks";
import { sessionHandle } from "sessionkit/sveltekit";
import { sessions } from "./sessions.server";

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

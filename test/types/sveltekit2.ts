// SvelteKit 2's types (the devDependency @sveltejs/kit@2; test/apps/sveltekit holds SvelteKit 3 and
// type-checks the same lines there). Checked by `npm run typecheck`: `resolve` is MaybePromise here.
import type { Handle, RequestEvent } from "@sveltejs/kit";
import { sequence } from "@sveltejs/kit/hooks";
import { MemoryStore, SessionManager } from "sessionkit";
import { type SessionLocals, sessionHandle } from "sessionkit/sveltekit";

const sessions = new SessionManager<{ user?: string }>({ store: new MemoryStore() });

export const handle: Handle = sessionHandle(sessions);

const other: Handle = ({ event, resolve }) => resolve(event);
export const composed: Handle = sequence(sessionHandle(sessions), other);
export const inferred = sequence(other, sessionHandle(sessions));

export function user(event: RequestEvent): string | undefined {
  return (event.locals as SessionLocals<{ user?: string }>).session.get("user");
}

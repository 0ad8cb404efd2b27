import { json } from "@sveltejs/kit";
import type { RequestHandler } from "./$types";

/** Calls every member of the Session API on locals.session once and reports what each gave. */
export const POST: RequestHandler = async ({ locals: { session } }) => {
  session.set("a", 1).set("b", 2).set("c", 3);
  const seen = { has: session.has("a"), get: session.get("a"), pop: session.pop("a"), hasAfterPop: session.has("a"), delete: session.delete("b") };
  const beforeClear = { keys: session.keys(), json: session.toJSON() };
  session.clear();
  const cleared = session.keys();
  session.set("kept", true);
  await session.regenerate();
  await session.signIn("ada");
  return json({ ...seen, ...beforeClear, cleared, userId: session.userId, handle: session.handle, superseded: session.superseded });
};

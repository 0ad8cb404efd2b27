import { getSession, withSession } from "sessionkit/next";
import { sessions } from "../../../lib/sessions";

/** Calls every member of sessionkit's Session on the NextSession once, saves, and reports what each gave. */
export const POST = withSession(async (request: Request): Promise<Response> => {
  const session = await getSession(sessions);
  session.set("a", 1);
  session.set("b", 2);
  session.set("c", 3);
  const seen = { has: session.has("a"), get: session.get("a"), pop: session.pop("a"), hasAfterPop: session.has("a"), delete: session.delete("b") };
  const beforeClear = { keys: session.keys(), json: session.toJSON() };
  session.clear();
  const cleared = session.keys();
  session.set("kept", true);
  await session.regenerate();
  await session.signIn(new URL(request.url).searchParams.get("user") ?? "ada");
  await session.save();
  return Response.json({ ...seen, ...beforeClear, cleared, userId: session.userId, handle: session.handle, superseded: session.superseded });
});

import { commitSession, getSession } from "../sessions.server";

/** Calls every member of sessionkit's Session on the React Router session once and reports what each gave. */
export async function action({ request }: { request: Request }) {
  const session = await getSession(request.headers.get("Cookie"));
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
  const report = { ...seen, ...beforeClear, cleared, userId: session.userId, handle: session.handle, superseded: session.superseded };
  return Response.json(report, { headers: { "Set-Cookie": await commitSession(session) } });
}

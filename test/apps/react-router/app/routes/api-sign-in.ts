import { commitSession, getSession } from "../sessions.server";

// signIn alone, then commitSession: a sign-in another request superseded (a sign-out meanwhile)
// ends `superseded`, and commitSession gives "". A write after it would begin a new session.
export async function action({ request }: { request: Request }) {
  const session = await getSession(request);
  await session.signIn(new URL(request.url).searchParams.get("user") ?? "ada");
  const setCookie = await commitSession(session);
  return Response.json({ userId: session.userId ?? null, superseded: session.superseded }, { headers: setCookie ? { "Set-Cookie": setCookie } : {} });
}

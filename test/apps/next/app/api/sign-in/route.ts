import { getSession, withSession } from "sessionkit/next";
import { sessions } from "../../../lib/sessions";

// signIn alone, then save(): a sign-in another request superseded (a sign-out meanwhile) ends
// `superseded`, and save() sends no cookie. A write after it would begin a new session.
export const POST = withSession(async (request: Request): Promise<Response> => {
  const session = await getSession(sessions);
  await session.signIn(new URL(request.url).searchParams.get("user") ?? "ada");
  await session.save();
  return Response.json({ userId: session.userId ?? null, superseded: session.superseded });
});

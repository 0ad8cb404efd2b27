import { getSession, withSession } from "sessionkit/next";
import { sessions } from "../../../lib/sessions";

// "Sign out my other devices": every session of this user but this one ends.
export const POST = withSession(async (): Promise<Response> => {
  const session = await getSession(sessions);
  if (!session.userId) return Response.json({ revoked: 0 }, { status: 401 });
  return Response.json({ revoked: await sessions.revokeUser(session.userId, { except: session.handle }) });
});

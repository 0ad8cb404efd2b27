import { getSession, withSession } from "sessionkit/next";
import { sessions } from "../../../lib/sessions";

// "Your devices": the signed-in user's sessions, this one marked.
export const GET = withSession(async (): Promise<Response> => {
  const session = await getSession(sessions);
  const userId = session.userId;
  if (!userId) return Response.json({ userId: null }, { status: 401 });
  const devices = (await sessions.listSessions(userId)).map((info) => ({ userAgent: info.userAgent, current: info.handle === session.handle }));
  return Response.json({ userId, devices });
});

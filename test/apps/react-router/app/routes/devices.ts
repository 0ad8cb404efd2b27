import { commitSession, getSession, sessions } from "../sessions.server";

// "Your devices" (GET) and "sign out my other devices" (POST), for the signed-in user.
export async function loader({ request }: { request: Request }) {
  const session = await getSession(request.headers.get("Cookie"));
  if (!session.userId) return Response.json({ userId: null }, { status: 401 });
  const devices = (await sessions.listSessions(session.userId)).map((info) => ({ userAgent: info.userAgent, current: info.handle === session.handle }));
  return Response.json({ userId: session.userId, visits: session.get("visits") ?? 0, devices });
}

export async function action({ request }: { request: Request }) {
  const session = await getSession(request.headers.get("Cookie"));
  if (!session.userId) return Response.json({ revoked: 0 }, { status: 401 });
  const revoked = await sessions.revokeUser(session.userId, { except: session.handle });
  return Response.json({ revoked }, { headers: { "Set-Cookie": await commitSession(session) } });
}

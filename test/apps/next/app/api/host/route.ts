import { getSession, withSession } from "sessionkit/next";
import { hostSessions } from "../../../lib/sessions";

// The `__Host-` manager (cookie.secure: true): POST counts, GET reads.
export const POST = withSession(async (): Promise<Response> => {
  const session = await getSession(hostSessions);
  session.set("visits", (session.get("visits") ?? 0) + 1);
  await session.save();
  return Response.json({ visits: session.get("visits") });
});

export const GET = withSession(async (): Promise<Response> => {
  const session = await getSession(hostSessions);
  return Response.json({ visits: session.get("visits") ?? 0 });
});

import { getSession, withSession } from "sessionkit/next";
import { sessions } from "../../../lib/sessions";

// withSession: a response that carries the session cookie is made unstorable by shared caches.
const countVisit = withSession(async (): Promise<Response> => {
  const session = await getSession(sessions);
  session.set("visits", (session.get("visits") ?? 0) + 1);
  await session.save();
  return Response.json({ visits: session.get("visits") }, { headers: { "cache-control": "public, max-age=60" } });
});

export { countVisit as GET, countVisit as POST };

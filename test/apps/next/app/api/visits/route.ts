import { getSession } from "sessionkit/next";
import { sessions } from "../../../lib/sessions";

async function countVisit(): Promise<Response> {
  const session = await getSession(sessions);
  session.set("visits", (session.get("visits") ?? 0) + 1);
  await session.save();
  return Response.json({ visits: session.get("visits") });
}

export { countVisit as GET, countVisit as POST };

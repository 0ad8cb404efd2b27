import { getSession, withSession } from "sessionkit/next";
import { sessions } from "../../lib/sessions";

export const POST = withSession(async () => {
  const session = await getSession(sessions);
  await session.destroy();
  await session.save();
  return Response.json({ signedOut: true });
});

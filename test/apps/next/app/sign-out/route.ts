import { getSession } from "sessionkit/next";
import { sessions } from "../../lib/sessions";

export async function POST(): Promise<Response> {
  const session = await getSession(sessions);
  await session.destroy();
  await session.save();
  return Response.json({ signedOut: true });
}

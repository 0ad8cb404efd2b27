import { SessionError } from "sessionkit";
import { getSession } from "sessionkit/next";
import { sessions } from "../../../lib/sessions";

// A change after save() would never be stored: the adapter throws instead of losing it.
export async function POST(): Promise<Response> {
  const session = await getSession(sessions);
  session.set("visits", 1);
  await session.save();
  try {
    session.set("visits", 2);
    return Response.json({ code: null });
  } catch (error) {
    if (!(error instanceof SessionError)) throw error;
    return Response.json({ code: error.code, message: error.message });
  }
}

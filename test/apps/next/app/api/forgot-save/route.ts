import { getSession } from "sessionkit/next";
import { sessions } from "../../../lib/sessions";

// A mistake on purpose: a change without save(). The adapter reports it after the response.
export async function POST(): Promise<Response> {
  const session = await getSession(sessions);
  session.set("visits", 1);
  return Response.json({ saved: false });
}

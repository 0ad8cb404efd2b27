import { redirect } from "react-router";
import { commitSession, getSession } from "../sessions.server";

// A change that keeps the id: commitSession resolves to "" and no Set-Cookie goes out.
export async function action({ request }: { request: Request }) {
  const session = await getSession(request.headers.get("Cookie"));
  session.set("visits", (session.get("visits") ?? 0) + 1);
  return redirect("/", { headers: { "Set-Cookie": await commitSession(session) } });
}

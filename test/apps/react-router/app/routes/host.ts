import { hostStorage } from "../sessions.server";

// The `__Host-` manager (cookie.secure: true): the action counts, the loader reads.
export async function action({ request }: { request: Request }) {
  const session = await hostStorage.getSession(request.headers.get("Cookie"));
  session.set("visits", (session.get("visits") ?? 0) + 1);
  return Response.json({ visits: session.get("visits") }, { headers: { "Set-Cookie": await hostStorage.commitSession(session) } });
}

export async function loader({ request }: { request: Request }) {
  const session = await hostStorage.getSession(request.headers.get("Cookie"));
  return Response.json({ visits: session.get("visits") ?? 0 });
}

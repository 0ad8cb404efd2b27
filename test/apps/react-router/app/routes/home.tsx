import { data, useLoaderData } from "react-router";
import { commitSession, getSession } from "../sessions.server";

export async function loader({ request }: { request: Request }) {
  const session = await getSession(request.headers.get("Cookie"));
  const message = session.get("message"); // a flash: gone once read, so commit the session
  return data({ user: session.get("user") ?? null, message: message ?? null }, { headers: { "Set-Cookie": await commitSession(session) } });
}

export default function Home() {
  const { user, message } = useLoaderData<typeof loader>();
  return (
    <>
      <p id="user">{user ? `signed in as ${user}` : "signed out"}</p>
      <p id="message">{message ?? ""}</p>
    </>
  );
}

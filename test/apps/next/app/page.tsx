import { getSession } from "sessionkit/next";
import { sessions } from "../lib/sessions";

// A Server Component: reads the session (read-only here).
export default async function Home() {
  const session = await getSession(sessions);
  const user = session.get("user");
  return <p id="user">{user ? `signed in as ${user}` : "signed out"}</p>;
}

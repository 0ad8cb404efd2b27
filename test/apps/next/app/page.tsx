import { Suspense } from "react";
import { getSession } from "sessionkit/next";
import { sessions } from "../lib/sessions";

// With cacheComponents, the part that reads the session (request data) renders under <Suspense>.
export default function Home() {
  return (
    <Suspense>
      <User />
    </Suspense>
  );
}

// A Server Component: reads the session (read-only here).
async function User() {
  const session = await getSession(sessions);
  const user = session.get("user");
  return (
    <>
      <p id="user">{user ? `signed in as ${user}` : "signed out"}</p>
      <p id="visits">{session.get("visits") ?? 0}</p>
    </>
  );
}

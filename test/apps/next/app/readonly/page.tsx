import { Suspense } from "react";
import { SessionError } from "sessionkit";
import { getSession } from "sessionkit/next";
import { sessions } from "../../lib/sessions";

export default function ReadOnly() {
  return (
    <Suspense>
      <Attempt />
    </Suspense>
  );
}

// Writing in a Server Component: the adapter refuses, with the reason and the fix.
async function Attempt() {
  const session = await getSession(sessions);
  try {
    session.set("visits", 1);
    return <p id="result">set succeeded</p>;
  } catch (error) {
    if (!(error instanceof SessionError)) throw error;
    return (
      <p id="result" data-code={error.code}>
        {error.message}
      </p>
    );
  }
}

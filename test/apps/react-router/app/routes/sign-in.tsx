import { Form, redirect } from "react-router";
import { regenerateSession } from "sessionkit/react-router";
import { commitSession, getSession } from "../sessions.server";

export async function action({ request }: { request: Request }) {
  const session = await getSession(request.headers.get("Cookie"));
  const user = String((await request.formData()).get("user"));
  await regenerateSession(session); // new id on sign-in (session fixation)
  session.set("user", user);
  session.flash("message", `welcome, ${user}`);
  return redirect("/", { headers: { "Set-Cookie": await commitSession(session) } });
}

export default function SignIn() {
  return (
    <Form method="post">
      <input name="user" />
      <button type="submit">Sign in</button>
    </Form>
  );
}

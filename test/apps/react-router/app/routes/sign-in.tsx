import { Form, redirect } from "react-router";
import { commitSession, getSession } from "../sessions.server";

export async function action({ request }: { request: Request }) {
  const session = await getSession(request); // the Request: signIn records its user agent
  const user = String((await request.formData()).get("user"));
  await session.signIn(user); // new id bound to the user (session fixation, OWASP)
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

import { signIn } from "../actions";

export default function SignIn() {
  return (
    <form action={signIn}>
      <input name="user" />
      <button type="submit">Sign in</button>
    </form>
  );
}

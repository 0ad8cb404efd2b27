"use server";
import { redirect } from "next/navigation";
import { getSession } from "sessionkit/next";
import { sessions } from "../lib/sessions";

export async function signIn(form: FormData): Promise<void> {
  const session = await getSession(sessions);
  const user = String(form.get("user"));
  await session.signIn(user); // new id bound to the user (session fixation, OWASP)
  session.set("user", user);
  await session.save();
  redirect("/");
}

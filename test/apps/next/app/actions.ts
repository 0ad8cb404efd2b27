"use server";
import { redirect } from "next/navigation";
import { getSession } from "sessionkit/next";
import { sessions } from "../lib/sessions";

export async function signIn(form: FormData): Promise<void> {
  const session = await getSession(sessions);
  await session.regenerate(); // new id on sign-in (session fixation)
  session.set("user", String(form.get("user")));
  await session.save();
  redirect("/");
}

import { json } from "@sveltejs/kit";
import type { RequestHandler } from "./$types";

// A new id bound to the user (session fixation, OWASP), listed under the user.
export const POST: RequestHandler = async ({ locals, url }) => {
  await locals.session.signIn(url.searchParams.get("user") ?? "ada");
  return json({ userId: locals.session.userId });
};

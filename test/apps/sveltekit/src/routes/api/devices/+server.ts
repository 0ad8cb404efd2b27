import { json } from "@sveltejs/kit";
import { sessions } from "../../../sessions.server";
import type { RequestHandler } from "./$types";

/** The signed-in user's sessions, by handle. */
export const GET: RequestHandler = async ({ locals }) => {
  const userId = locals.session.userId;
  return json(userId ? (await sessions.listSessions(userId)).map((info) => info.handle) : []);
};

/** Signs the user out everywhere, this session included. */
export const POST: RequestHandler = async ({ locals }) => {
  const userId = locals.session.userId;
  return json({ revoked: userId ? await sessions.revokeUser(userId) : 0 });
};

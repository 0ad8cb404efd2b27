// Test-only (copied into server/ beside the documented files): the user's sessions, by handle.
import { defineEventHandler } from "h3";
import { useSession } from "sessionkit/h3";
import { sessions } from "../utils/sessions";

export default defineEventHandler(async (event) => {
  const userId = useSession(event).userId;
  return userId ? (await sessions.listSessions(userId)).map((info) => info.handle) : [];
});

// Test-only (copied into server/ beside the documented files): sign the user out everywhere.
import { defineEventHandler } from "h3";
import { useSession } from "sessionkit/h3";
import { sessions } from "../utils/sessions";

export default defineEventHandler(async (event) => {
  const userId = useSession(event).userId;
  return { revoked: userId ? await sessions.revokeUser(userId) : 0 };
});

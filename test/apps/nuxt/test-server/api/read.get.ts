// Test-only (copied into server/ beside the documented files): what the session holds.
import { defineEventHandler } from "h3";
import { useSession } from "sessionkit/h3";

export default defineEventHandler((event) => {
  const session = useSession(event);
  return { data: session.toJSON(), userId: session.userId ?? null };
});

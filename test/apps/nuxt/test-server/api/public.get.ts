// Test-only (copied into server/ beside the documented files): a write on a response the app marks
// shareable; the session's cookie makes it private, no-store.
import { defineEventHandler, setResponseHeader } from "h3";
import { useSession } from "sessionkit/h3";

export default defineEventHandler((event) => {
  setResponseHeader(event, "cache-control", "public, max-age=300");
  useSession<{ seen?: boolean }>(event).set("seen", true);
  return { seen: true };
});

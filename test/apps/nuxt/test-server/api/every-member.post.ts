// Test-only (copied into server/ beside the documented files): every Session member, once.
import { defineEventHandler } from "h3";
import { useSession } from "sessionkit/h3";

export default defineEventHandler(async (event) => {
  const session = useSession<{ a?: number; b?: number; c?: number; kept?: boolean }>(event);
  session.set("a", 1).set("b", 2).set("c", 3);
  const seen = { has: session.has("a"), get: session.get("a"), pop: session.pop("a"), hasAfterPop: session.has("a"), delete: session.delete("b") };
  const beforeClear = { keys: session.keys(), json: session.toJSON() };
  session.clear();
  const cleared = session.keys();
  session.set("kept", true);
  await session.regenerate();
  await session.signIn("ada");
  return { ...seen, ...beforeClear, cleared, userId: session.userId, handle: session.handle, superseded: session.superseded };
});

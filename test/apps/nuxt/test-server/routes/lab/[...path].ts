// Test-only (copied into server/ beside the documented files): the lab manager's routes
// (utils/lab-sessions.ts), and POST /lab/store, the test's switch for that manager's store.
import { createError, defineEventHandler, getQuery, readRawBody } from "h3";
import type { H3Event } from "h3";
import { useSession } from "sessionkit/h3";
import type { Gate } from "../../../../../../dist/testing/gate.js";
import { labBackend, labEvents, labStore } from "../../utils/lab-sessions";

let held: Gate | undefined;

/** "hold" holds the next store write, "reached" answers once it arrived, "release" lets it on; "down"/"up" fail every call or not. */
async function storeSwitch(event: H3Event): Promise<null> {
  const command = await readRawBody(event);
  if (command === "hold") held = labStore.hold("set");
  else if (command === "reached") await held?.reached;
  else if (command === "release") held?.release();
  else if (command === "down" || command === "up") labBackend.down = command === "down";
  return null;
}

export default defineEventHandler(async (event) => {
  const session = useSession<{ user?: string; n?: number }>(event);
  switch (`${event.method} ${event.path.split("?")[0]}`) {
    case "GET /lab/read":
      return { data: session.toJSON(), userId: session.userId ?? null };
    case "POST /lab/count":
      session.set("n", (session.get("n") ?? 0) + 1);
      return { n: session.get("n") };
    case "POST /lab/sign-in":
      await session.signIn(String(getQuery(event).user ?? "ada"));
      return { userId: session.userId };
    case "POST /lab/sign-out":
      await session.destroy();
      return { signedOut: true };
    case "GET /lab/events":
      return labEvents;
    case "POST /lab/store":
      return storeSwitch(event);
    default:
      throw createError({ statusCode: 404 });
  }
});

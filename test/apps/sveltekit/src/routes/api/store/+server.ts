import type { Gate } from "../../../../../../../dist/testing/gate.js";
import { events, gated } from "../../../sessions.server";
import type { RequestHandler } from "./$types";

let held: Gate | undefined;

/** Test switch: "hold" holds the next store write, "reached" answers once it arrived, "release" lets it on. */
export const POST: RequestHandler = async ({ request }) => {
  const command = await request.text();
  if (command === "hold") held = gated.hold("set");
  else if (command === "reached") await held?.reached;
  else if (command === "release") held?.release();
  return new Response(null, { status: 204 });
};

/** The audit events seen so far. */
export const GET: RequestHandler = () => Response.json({ events });

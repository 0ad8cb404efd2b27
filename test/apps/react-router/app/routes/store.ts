import type { Gate } from "../../../../../dist/testing/gate.js";
import { gated, store } from "../sessions.server";

let held: Gate | undefined;

/**
 * Test switch: POST "down" makes every store write fail, "up" restores it; "hold" holds the next
 * write on a GatedStore barrier, "reached" answers once that write has arrived, "release" lets it on.
 */
export async function action({ request }: { request: Request }) {
  const command = await request.text();
  if (command === "hold") held = gated.hold("set");
  else if (command === "reached") await held?.reached;
  else if (command === "release") held?.release();
  else store.failing = command === "down";
  return new Response(null, { status: 204 });
}

/** The audit events seen so far. */
export function loader() {
  return Response.json({ events: store.events });
}

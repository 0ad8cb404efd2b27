import { gated, store } from "../../../lib/sessions";

/**
 * Test switch: POST "down" makes every store write fail, "up" restores it; "hold" holds the next
 * write on a GatedStore barrier, "reached" answers once that write has arrived, "release" lets it on.
 */
export async function POST(request: Request): Promise<Response> {
  const command = await request.text();
  if (command === "hold") globalThis.heldSet = gated.hold("set");
  else if (command === "reached") await globalThis.heldSet?.reached;
  else if (command === "release") globalThis.heldSet?.release();
  else store.failing = command === "down";
  return new Response(null, { status: 204 });
}

import { store } from "../../../lib/sessions";

/** Test switch: POST "down" makes every store write fail, POST "up" restores it. */
export async function POST(request: Request): Promise<Response> {
  store.failing = (await request.text()) === "down";
  return new Response(null, { status: 204 });
}

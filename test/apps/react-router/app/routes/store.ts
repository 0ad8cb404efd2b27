import { store } from "../sessions.server";

/** Test switch: POST "down" makes every store write fail, POST "up" restores it. */
export async function action({ request }: { request: Request }) {
  store.failing = (await request.text()) === "down";
  return new Response(null, { status: 204 });
}

/** The audit events seen so far. */
export function loader() {
  return Response.json({ events: store.events });
}

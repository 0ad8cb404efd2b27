import { connection } from "next/server";
import { store } from "../../../lib/sessions";

export async function GET(): Promise<Response> {
  await connection(); // request-time data, never prerendered
  return Response.json({ touches: store.touches, events: store.events });
}

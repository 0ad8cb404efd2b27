import { store } from "../../../lib/sessions";

export const dynamic = "force-dynamic";

export function GET(): Response {
  return Response.json({ touches: store.touches });
}

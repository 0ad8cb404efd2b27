import type { RequestHandler } from "./$types";

/** The app chose its own Cache-Control for a response that also sets the session cookie. */
export const GET: RequestHandler = ({ locals }) => {
  locals.session.set("views", 1);
  return new Response("ok", { headers: { "cache-control": "private, max-age=60" } });
};

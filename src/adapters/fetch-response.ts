/**
 * A Response passed through from fetch() has immutable headers (Fetch standard, "immutable"
 * guard), and a delete on them throws even for an absent name; such a response is copied once
 * so the session headers can be added.
 */
export function withMutableHeaders(response: Response): Response {
  try {
    response.headers.delete("x-sessionkit-probe");
    return response;
  } catch {
    return new Response(response.body, response);
  }
}

import type { Session } from "../../src/index.js";

export type Data = { user?: string; n?: number; [key: string]: unknown };

/** The same small app for every transport: returns [status, body]. */
export async function route(session: Session<Data>, path: string): Promise<[number, string]> {
  const url = new URL(path, "http://x");
  switch (url.pathname) {
    case "/login":
      await session.regenerate();
      session.set("user", url.searchParams.get("user") ?? "ada");
      return [200, "logged in"];
    case "/logout":
      await session.destroy();
      return [200, "bye"];
    case "/whoami":
      return [200, session.get("user") ?? "anonymous"];
    case "/count":
      session.set("n", (session.get("n") ?? 0) + 1);
      return [200, String(session.get("n"))];
    case "/set": {
      const key = url.searchParams.get("key")!;
      session.set(key, url.searchParams.get("value"));
      return [200, "ok"];
    }
    case "/all":
      return [200, JSON.stringify(session.toJSON())];
    case "/nothing":
      return [200, "untouched"];
    default:
      return [404, "not found"];
  }
}

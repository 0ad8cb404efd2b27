import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/** Listens on 127.0.0.1 on a free port; resolves the base URL and a closer. */
export async function listen(server: Server): Promise<{ url: string; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** A tiny browser: keeps the cookies the server sets (Max-Age=0 removes one). */
export class CookieClient {
  readonly jar = new Map<string, string>();
  constructor(readonly base: string) {}

  async get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    const cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join("; ");
    const response = await fetch(this.base + path, { headers: { ...(cookie ? { cookie } : {}), ...headers }, redirect: "manual" });
    keepCookies(this.jar, response);
    return response;
  }
}

/** Applies a response's Set-Cookie lines to a jar, as a browser would (Max-Age=0 removes one). */
export function keepCookies(jar: Map<string, string>, response: Response): void {
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const eq = pair!.indexOf("=");
    const name = pair!.slice(0, eq);
    if (/Max-Age=0/i.test(line)) jar.delete(name);
    else jar.set(name, pair!.slice(eq + 1));
  }
}

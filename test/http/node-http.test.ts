import { createServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStore, SessionManager } from "../../src/index.js";
import { CookieClient, listen } from "../support/http.js";
import { RecordingStore } from "../support/stores.js";
import type { Data } from "./routes.js";
import { route } from "./routes.js";

describe("node:http with start/release", () => {
  const store = new RecordingStore();
  const sessions = new SessionManager<Data>({ store });
  let url = "";
  let close: () => Promise<void>;

  beforeAll(async () => {
    const server = createServer(async (req, res) => {
      try {
        const session = await sessions.start(req, res); // beego's SessionStart(w, r) shape
        const [status, body] = await route(session, req.url ?? "/");
        await sessions.release(session, res);
        res.writeHead(status, { "content-type": "text/plain" }).end(body);
      } catch (error) {
        res.writeHead(500).end(String(error));
      }
    });
    ({ url, close } = await listen(server));
  });
  afterAll(() => close());

  it("login sets an HttpOnly, SameSite=Lax, Path=/ cookie with no-store caching", async () => {
    const client = new CookieClient(url);
    const response = await client.get("/login");
    const [cookie] = response.headers.getSetCookie();
    expect(cookie).toMatch(/^sid=[A-Za-z0-9_-]{43}; Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await (await client.get("/whoami")).text()).toBe("ada");
  });

  it("sends no Set-Cookie for a request that does not touch the session", async () => {
    const client = new CookieClient(url);
    const anonymous = await client.get("/nothing");
    expect(anonymous.headers.getSetCookie()).toEqual([]);
    expect(anonymous.headers.get("cache-control")).toBeNull();
    await client.get("/login");
    const reading = await client.get("/whoami");
    expect(reading.headers.getSetCookie()).toEqual([]);
  });

  it("gives forged, malformed, oversized and unknown cookies a fresh session, with no store read for the malformed", async () => {
    for (const value of ["A".repeat(43), "not-a-token", "x".repeat(8192), "%00%ff"]) {
      store.calls.length = 0;
      const client = new CookieClient(url);
      client.jar.set("sid", value);
      const response = await client.get("/count");
      expect(await response.text()).toBe("1");
      const issued = client.jar.get("sid");
      expect(issued).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(issued).not.toBe(value);
      expect(store.calls.filter((c) => c === "get")).toHaveLength(value === "A".repeat(43) ? 1 : 0);
    }
  });

  it("release rejects with a clear error when headers were already sent", async () => {
    const manager = new SessionManager<Data>({ store: new MemoryStore() });
    const server = createServer(async (req, res) => {
      const session = await manager.start(req);
      session.set("n", 1);
      res.writeHead(200);
      const error = await manager.release(session, res).catch((e: unknown) => e);
      res.end((error as { code?: string }).code);
    });
    const { url: base, close: stop } = await listen(server);
    expect(await (await fetch(base)).text()).toBe("ERR_SESSION_HEADERS_SENT");
    await stop();
  });
});

describe("node:http: expiry and secret rotation through a real server", () => {
  const clock = { t: Date.UTC(2026, 0, 1) };
  const now = () => clock.t;
  const store = new MemoryStore({ now });
  let secrets = ["old secret: 3e9a0c7d1f54b826 a7c3e90d"];
  let sessions = new SessionManager<Data>({ store, now, secrets, idleTimeout: "30m", absoluteTimeout: "2h" });
  let url = "";
  let close: () => Promise<void>;

  beforeAll(async () => {
    const server = createServer(async (req, res) => {
      const session = await sessions.start(req);
      const [status, body] = await route(session, req.url ?? "/");
      await sessions.release(session, res);
      res.writeHead(status).end(body);
    });
    ({ url, close } = await listen(server));
  });
  afterAll(() => close());

  it("an idle session expires after idleTimeout, a busy one at absoluteTimeout", async () => {
    const idle = new CookieClient(url);
    await idle.get("/login?user=idle");
    const busy = new CookieClient(url);
    await busy.get("/login?user=busy");
    for (let minutes = 20; minutes <= 120; minutes += 20) {
      clock.t += 20 * 60_000;
      const expected = minutes < 120 ? "busy" : "anonymous";
      expect(await (await busy.get("/whoami")).text(), `busy at ${minutes} min`).toBe(expected);
      if (minutes === 40) expect(await (await idle.get("/whoami")).text()).toBe("anonymous");
    }
  });

  it("a cookie signed with the old secret still loads after rotation and is re-signed with the new one", async () => {
    const client = new CookieClient(url);
    await client.get("/login?user=rotated");
    const oldCookie = client.jar.get("sid")!;
    secrets = ["new secret: 8b1d5f0a9e27c463 0f9b2d6e", secrets[0]!];
    sessions = new SessionManager<Data>({ store, now, secrets, idleTimeout: "30m", absoluteTimeout: "2h" });
    const response = await client.get("/whoami");
    expect(await response.text()).toBe("rotated");
    const newCookie = client.jar.get("sid")!;
    expect(response.headers.getSetCookie()).toHaveLength(1);
    expect(newCookie).not.toBe(oldCookie);
    expect(newCookie.split(".")[0]).toBe(oldCookie.split(".")[0]);
    sessions = new SessionManager<Data>({ store, now, secrets: [secrets[0]!], idleTimeout: "30m", absoluteTimeout: "2h" });
    expect(await (await client.get("/whoami")).text()).toBe("rotated");
  });
});

import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { sessionMiddleware as expressMiddleware } from "../../src/adapters/express.js";
import { sessionPlugin } from "../../src/adapters/fastify.js";
import { sessionMiddleware as h3Middleware } from "../../src/adapters/h3.js";
import { sessionMiddleware as honoMiddleware } from "../../src/adapters/hono.js";
import { sessionMiddleware as koaMiddleware } from "../../src/adapters/koa.js";
import { createSessionStorage } from "../../src/adapters/react-router.js";
import { withMutableHeaders } from "../../src/adapters/shared.js";
import { sessionHandle } from "../../src/adapters/sveltekit.js";
import { MemoryStore, SessionManager } from "../../src/index.js";

// Each adapter refuses, when it is set up, a value that is not a SessionManager.
const setups: Array<[string, (manager: never) => unknown]> = [
  ["sessionMiddleware", expressMiddleware],
  ["sessionMiddleware", h3Middleware],
  ["sessionMiddleware", honoMiddleware],
  ["sessionMiddleware", koaMiddleware],
  ["sessionHandle", sessionHandle],
  ["createSessionStorage", createSessionStorage],
];

describe("adapters' shared helpers", () => {
  it("every adapter refuses a store, a missing manager or the class itself with a TypeError naming its entry", async () => {
    for (const wrong of [new MemoryStore(), undefined, SessionManager]) {
      for (const [name, setup] of setups) expect(() => setup(wrong as never), name).toThrow(new TypeError(`${name} needs a SessionManager`));
      await expect(Fastify().register(sessionPlugin, { manager: wrong as never }).ready()).rejects.toThrow(`sessionPlugin's option "manager" needs a SessionManager`);
    }
    const manager = new SessionManager({ store: new MemoryStore() });
    for (const [name, setup] of setups) expect(() => setup(manager as never), name).not.toThrow();
  });

  it("withMutableHeaders keeps a response whose headers can change and copies one from fetch()", async () => {
    const own = new Response("body", { headers: { "x-a": "1" } });
    expect(withMutableHeaders(own)).toBe(own);
    const fetched = Response.redirect("http://127.0.0.1/next", 302); // immutable headers, as fetch() gives
    const copy = withMutableHeaders(fetched);
    expect(copy).not.toBe(fetched);
    copy.headers.append("set-cookie", "sid=x");
    expect([copy.status, copy.headers.get("location"), copy.headers.get("set-cookie")]).toEqual([302, "http://127.0.0.1/next", "sid=x"]);
  });
});

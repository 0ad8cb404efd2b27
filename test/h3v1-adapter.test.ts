// sessionkit/h3 on h3 1.15 (Nitro 2, Nuxt 4): the devDependency h3-v1 is npm:h3@^1.15, served
// by its own toNodeListener on node:http, as Nitro's node server serves it.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import type { H3Event as H3v1Event } from "h3-v1";
import { createApp, createRouter, defineEventHandler, getQuery, getRequestProtocol, sendRedirect, sendStream, setResponseHeader, toNodeListener } from "h3-v1";
import { describe, expect, it, vi } from "vitest";
import { sessionMiddleware, useSession } from "../src/adapters/h3.js";
import { SessionManager } from "../src/core/manager.js";
import type { Session } from "../src/core/session.js";
import type { RunningApp, StartApp } from "./support/adapter-suite.js";
import { TestStore, adapterSuite, sessionCookie } from "./support/adapter-suite.js";

// sessionkit/h3 is typed with h3 2's event; in a Nuxt 4 app "h3" is h3 1 and the types agree.
const sessionOf = (event: H3v1Event): Session => useSession(event as unknown as Parameters<typeof useSession>[0]);

async function listen(route: (router: ReturnType<typeof createRouter>) => void, manager: SessionManager, errors: unknown[] = []): Promise<RunningApp> {
  const app = createApp();
  // As Nitro registers a server/middleware file: the plain function is the event handler. What it
  // throws is recorded on its way to h3's error path (h3 1's onError sees only an H3Error whose
  // cause is the store driver's error, not the SessionStoreError).
  const middleware = sessionMiddleware(manager) as unknown as (event: H3v1Event) => Promise<unknown>;
  app.use(
    defineEventHandler(async (event) => {
      try {
        return await middleware(event);
      } catch (error) {
        errors.push(error);
        throw error;
      }
    }),
  );
  const router = createRouter();
  route(router);
  app.use(router);
  const server = createServer(toNodeListener(app));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((done) => server.close(() => done())) };
}

const startApp: StartApp = async (manager, errors) => {
  // On h3 1 a failed commit write comes after h3's error path has run: it is logged, and the
  // response is a bare 500. The log stands in for the error path here.
  const log = console.error;
  const logged = vi.spyOn(console, "error").mockImplementation((message: unknown, ...rest: unknown[]) => {
    if (String(message).startsWith("sessionkit/h3:")) errors.push(rest[0]);
    else log(message, ...rest);
  });
  const running = await listen((router) => {
    router.get("/untouched", defineEventHandler(() => "ok"));
    router.get("/read", defineEventHandler((event) => sessionOf(event).toJSON()));
    router.get(
      "/set",
      defineEventHandler((event) => {
        const { key, value } = getQuery<{ key: string; value: string }>(event);
        sessionOf(event).set(key, value);
        return "ok";
      }),
    );
    router.get(
      "/cached",
      defineEventHandler((event) => {
        sessionOf(event).set("seen", true);
        setResponseHeader(event, "cache-control", getQuery(event).cc?.toString() ?? "private, max-age=60");
        return "ok";
      }),
    );
    router.post(
      "/login",
      defineEventHandler(async (event) => {
        await sessionOf(event).regenerate();
        sessionOf(event).set("user", "alice");
        return "ok";
      }),
    );
    router.post(
      "/logout",
      defineEventHandler(async (event) => {
        await sessionOf(event).destroy();
        return "ok";
      }),
    );
  }, manager, errors);
  return { url: running.url, close: () => running.close().finally(() => logged.mockRestore()) };
};

adapterSuite("h3 1", startApp);

describe("h3 1 adapter specifics", () => {
  // A store that answers later, as a server store does: the body waits for the write, and h3 1
  // must still see a response whose end was called as handled.
  const appWith = (route: (router: ReturnType<typeof createRouter>) => void) => {
    const store = new TestStore();
    store.writeDelayMs = 20;
    return listen(route, new SessionManager({ store, gcInterval: 0 }));
  };

  it("signs in with a redirect h3 sends itself, counts, and signs out", async () => {
    const running = await appWith((router) => {
      router.post(
        "/sign-in",
        defineEventHandler(async (event) => {
          await sessionOf(event).signIn("ada");
          return sendRedirect(event, "/", 303);
        }),
      );
      router.post(
        "/count",
        defineEventHandler((event) => {
          const session = sessionOf(event);
          session.set("n", ((session.get("n") as number | undefined) ?? 0) + 1);
          return { user: session.userId ?? null, n: session.get("n") };
        }),
      );
      router.post(
        "/sign-out",
        defineEventHandler(async (event) => {
          await sessionOf(event).destroy();
          return { signedOut: true };
        }),
      );
    });
    try {
      const signIn = await fetch(`${running.url}/sign-in`, { method: "POST", redirect: "manual" });
      expect(signIn.status).toBe(303);
      expect(signIn.headers.get("cache-control")).toBe("no-store");
      const cookie = sessionCookie(signIn)!;
      expect(cookie).toBeDefined();
      for (const n of [1, 2]) expect(await (await fetch(`${running.url}/count`, { method: "POST", headers: { cookie } })).json()).toEqual({ user: "ada", n });
      const signOut = await fetch(`${running.url}/sign-out`, { method: "POST", headers: { cookie } });
      expect(signOut.headers.getSetCookie()[0]).toMatch(/^sid=; .*Expires=Thu, 01 Jan 1970/);
      expect(await (await fetch(`${running.url}/count`, { method: "POST", headers: { cookie } })).json()).toEqual({ user: null, n: 1 });
    } finally {
      await running.close();
    }
  });

  it("marks the cookie Secure for a request h3 1 calls https (X-Forwarded-Proto, as its getRequestProtocol)", async () => {
    const running = await appWith((router) => {
      router.post(
        "/count",
        defineEventHandler((event) => {
          sessionOf(event).set("n", 1);
          return { https: getRequestProtocol(event) === "https" };
        }),
      );
    });
    try {
      for (const [proto, secure] of [["https", true], ["http", false], [undefined, false]] as const) {
        const response = await fetch(`${running.url}/count`, { method: "POST", headers: proto ? { "x-forwarded-proto": proto } : {} });
        expect(await response.json()).toEqual({ https: secure });
        expect(response.headers.getSetCookie()[0]!.split("; ").includes("Secure"), String(proto)).toBe(secure);
      }
    } finally {
      await running.close();
    }
  });

  it("puts the cookie on a streamed response", async () => {
    const running = await appWith((router) =>
      router.get(
        "/stream",
        defineEventHandler((event) => {
          sessionOf(event).set("a", 1);
          return sendStream(event, Readable.from(["one ", "two"]));
        }),
      ),
    );
    try {
      const response = await fetch(`${running.url}/stream`);
      expect(await response.text()).toBe("one two");
      expect(sessionCookie(response)).toBeDefined();
    } finally {
      await running.close();
    }
  });

  it("useSession without the middleware throws ERR_SESSION_NO_MIDDLEWARE", async () => {
    const app = createApp();
    const thrown: unknown[] = [];
    app.use(
      defineEventHandler((event) => {
        try {
          return sessionOf(event).toJSON();
        } catch (error) {
          thrown.push(error);
          return "no session";
        }
      }),
    );
    const server = createServer(toNodeListener(app));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("no session");
      expect(thrown[0]).toMatchObject({ code: "ERR_SESSION_NO_MIDDLEWARE", message: expect.stringContaining("sessionMiddleware(sessions)") });
    } finally {
      await new Promise((done) => server.close(done));
    }
  });
});

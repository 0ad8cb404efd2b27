import { createServer } from "node:http";
import express5 from "express";
import express4 from "express4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessionMiddleware } from "../../src/adapters/express.js";
import type { Session } from "../../src/index.js";
import { SessionManager } from "../../src/index.js";
import { CookieClient, listen } from "../support/http.js";
import { FlakyStore } from "../support/stores.js";
import type { Data } from "./routes.js";
import { route } from "./routes.js";

type ExpressFactory = typeof express5;
const versions: Array<[string, ExpressFactory]> = [
  ["Express 5", express5],
  ["Express 4", express4 as unknown as ExpressFactory],
];

for (const [label, express] of versions) {
  describe(`${label} adapter`, () => {
    const store = new FlakyStore();
    const sessions = new SessionManager<Data>({ store, storeTimeout: "2s" });
    let url = "";
    let close: () => Promise<void>;

    beforeAll(async () => {
      const app = express();
      app.use(sessionMiddleware(sessions));
      app.get("/stream", (req, res) => {
        req.session.set("streamed", true);
        res.write("part one, ");
        setTimeout(() => res.end("part two"), 20);
      });
      app.get("/cached", (req, res) => {
        req.session.set("n", 1);
        res.set("cache-control", "private, max-age=60").send("ok");
      });
      app.get("/redirect-after-login", async (req, res) => {
        await req.session.regenerate();
        req.session.set("user", "grace");
        res.redirect("/whoami");
      });
      app.use(async (req, res, next) => {
        try {
          const [status, body] = await route(req.session as unknown as Session<Data>, req.url);
          res.status(status).send(body);
        } catch (error) {
          next(error);
        }
      });
      app.use((error: { code?: string; message: string }, _req: unknown, res: { status(n: number): { send(b: string): void } }, _next: unknown) => {
        res.status(500).send(`error: ${error.code ?? error.message}`);
      });
      ({ url, close } = await listen(createServer(app)));
    });
    afterAll(() => close());

    it("login sets an HttpOnly, SameSite=Lax, Path=/ cookie and Cache-Control: no-store", async () => {
      const client = new CookieClient(url);
      const response = await client.get("/login?user=ada");
      expect(response.headers.getSetCookie()[0]).toMatch(/^sid=[A-Za-z0-9_-]{43}; Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax$/);
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(await (await client.get("/whoami")).text()).toBe("ada");
    });

    it("keeps the app's own Cache-Control", async () => {
      const response = await new CookieClient(url).get("/cached");
      expect(response.headers.getSetCookie()).toHaveLength(1);
      expect(response.headers.get("cache-control")).toBe("private, max-age=60");
    });

    it("sends no Set-Cookie when the session is not touched", async () => {
      const client = new CookieClient(url);
      expect((await client.get("/nothing")).headers.getSetCookie()).toEqual([]);
      await client.get("/login");
      expect((await client.get("/whoami")).headers.getSetCookie()).toEqual([]);
    });

    it("regenerate on login changes the id and the old id loads nothing", async () => {
      const client = new CookieClient(url);
      await client.get("/count");
      const before = client.jar.get("sid")!;
      await client.get("/login?user=lin");
      const after = client.jar.get("sid")!;
      expect(after).not.toBe(before);
      const stale = new CookieClient(url);
      stale.jar.set("sid", before);
      expect(await (await stale.get("/whoami")).text()).toBe("anonymous");
      expect(await (await client.get("/all")).text()).toBe('{"n":1,"user":"lin"}');
    });

    it("the store write is done before the redirect reaches the client", async () => {
      store.mode = "slow";
      try {
        const client = new CookieClient(url);
        const writesBefore = store.completedWrites;
        const response = await client.get("/redirect-after-login");
        expect(response.status).toBe(302);
        expect(store.completedWrites).toBe(writesBefore + 1);
        expect(await (await client.get("/whoami")).text()).toBe("grace");
      } finally {
        store.mode = "ok";
      }
    });

    it("destroy expires the cookie and removes the session from the store", async () => {
      const client = new CookieClient(url);
      await client.get("/login");
      const token = client.jar.get("sid")!;
      expect(await sessions.exists(token)).toBe(true);
      const response = await client.get("/logout");
      expect(response.headers.getSetCookie()[0]).toMatch(/^sid=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/);
      expect(await sessions.exists(token)).toBe(false);
      expect(client.jar.has("sid")).toBe(false);
    });

    it("50 overlapping requests each setting a distinct key all persist", async () => {
      const client = new CookieClient(url);
      await client.get("/login");
      await Promise.all(Array.from({ length: 50 }, (_, i) => client.get(`/set?key=k${i}&value=v${i}`)));
      const all = JSON.parse(await (await client.get("/all")).text()) as Record<string, string>;
      for (let i = 0; i < 50; i++) expect(all[`k${i}`]).toBe(`v${i}`);
    });

    it("a streamed response still carries its Set-Cookie and the write completes", async () => {
      const client = new CookieClient(url);
      const response = await client.get("/stream");
      expect(await response.text()).toBe("part one, part two");
      expect(response.headers.getSetCookie()).toHaveLength(1);
      expect(await (await client.get("/all")).text()).toBe('{"streamed":true}');
    });

    it("a failing store answers 500 through next(err), then the server recovers", async () => {
      const client = new CookieClient(url);
      await client.get("/login");
      store.mode = "fail";
      try {
        const failed = await client.get("/count");
        expect(failed.status).toBe(500);
        expect(await failed.text()).toBe("error: ERR_SESSION_STORE");
        expect(failed.headers.getSetCookie()).toEqual([]);
      } finally {
        store.mode = "ok";
      }
      expect(await (await client.get("/whoami")).text()).toBe("ada");
    });

    it("a store failure during a streamed response aborts the connection instead of ending it as a success", async () => {
      const client = new CookieClient(url);
      await client.get("/login");
      store.mode = "failWrites";
      try {
        const outcome = await client.get("/stream").then((r) => r.text()).then(
          () => "completed",
          () => "aborted",
        );
        expect(outcome).toBe("aborted");
      } finally {
        store.mode = "ok";
      }
    });
  });
}

// On Express the adapter puts `session` and the commit hooks on the prototypes Express gives
// req and res (not on each request): these pin down what that must not change.
for (const [label, express] of versions) {
  describe(`${label}: req.session and the commit hooks across apps`, () => {
    const store = new FlakyStore();
    const sessions = new SessionManager<Data>({ store, storeTimeout: "2s" });
    const adminSessions = new SessionManager<Data>({ store: new FlakyStore(), cookie: { name: "admin" } });
    let url = "";
    let close: () => Promise<void>;

    beforeAll(async () => {
      const app = express();
      // A route ahead of the middleware, and a whole other app in the process with its own `req.session`.
      app.get("/before", (req, res) => void res.send(String((req as { session?: unknown }).session)));
      const other = express();
      other.use((req, _res, next) => {
        (req as unknown as { session: unknown }).session = { theirs: true };
        next();
      });
      other.get("/", (req, res) => void res.json((req as unknown as { session: unknown }).session));
      app.use("/other", other);
      // Something that wraps res.end before sessionkit does, as compression does.
      app.use((req, res, next) => {
        if (req.query.wrap === undefined) return next();
        const end = res.end.bind(res) as (...args: unknown[]) => unknown;
        res.end = ((...args: unknown[]) => end(...args)) as typeof res.end;
        next();
      });
      app.use(sessionMiddleware(sessions));
      // A second manager's middleware on the same requests (an admin area with its own cookie):
      // the first session stays reachable through res.locals, and both must commit.
      app.use("/both", (req, res, next) => ((res.locals.first = req.session), next()));
      app.use("/both", sessionMiddleware(adminSessions));
      app.get("/both/set", (req, res) => {
        (res.locals.first as Session<Data>).set("user", "first");
        req.session.set("user", "second");
        res.send("ok");
      });
      app.get("/both/get", (req, res) => void res.json([(res.locals.first as Session<Data>).get("user"), req.session.get("user")]));
      const sub = express();
      sub.get("/set", (req, res) => {
        req.session.set("user", "sub");
        res.send("ok");
      });
      sub.get("/pass", (req, _res, next) => {
        req.session.set("passed", true);
        next(); // leaves the sub-app: the parent ends the response
      });
      app.use("/sub", sub);
      app.use((req, res) => void res.json(req.session.toJSON()));
      app.use((error: { code?: string }, _req: unknown, res: { status(n: number): { send(b: string): void } }, _next: unknown) => {
        res.status(500).send(`error: ${error.code}`);
      });
      ({ url, close } = await listen(createServer(app)));
    });
    afterAll(() => close());

    it("a sub-app's change commits, also when the sub-app hands the response back to its parent", async () => {
      const client = new CookieClient(url);
      expect((await client.get("/sub/set")).headers.getSetCookie()).toHaveLength(1);
      expect(await (await client.get("/sub/pass")).text()).toBe('{"user":"sub","passed":true}');
      expect(await (await client.get("/all")).text()).toBe('{"user":"sub","passed":true}');
    });

    it("two managers' middlewares on one request each commit their own session", async () => {
      const client = new CookieClient(url);
      const set = await client.get("/both/set");
      expect(await set.text()).toBe("ok");
      expect(set.headers.getSetCookie().map((cookie) => cookie.split("=")[0]).sort()).toEqual(["admin", "sid"]);
      expect(await (await client.get("/both/get")).json()).toEqual(["first", "second"]);
    });

    it("a route the middleware does not cover sees no session, and another app's own req.session is its own", async () => {
      const client = new CookieClient(url);
      const before = await client.get("/before");
      expect(await before.text()).toBe("undefined");
      expect(before.headers.getSetCookie()).toEqual([]);
      const other = await client.get("/other");
      expect(await other.json()).toEqual({ theirs: true });
      expect(other.headers.getSetCookie()).toEqual([]);
    });

    it("with res.end wrapped before sessionkit, a failing store still answers 500 before anything is sent", async () => {
      const client = new CookieClient(url);
      expect(await (await client.get("/sub/set?wrap")).text()).toBe("ok");
      expect(await (await client.get("/all?wrap")).text()).toBe('{"user":"sub"}');
      store.mode = "fail";
      try {
        const failed = await client.get("/sub/set?wrap");
        expect(failed.status).toBe(500);
        expect(await failed.text()).toBe("error: ERR_SESSION_STORE");
      } finally {
        store.mode = "ok";
      }
    });
  });
}

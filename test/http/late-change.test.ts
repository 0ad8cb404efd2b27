import { createServer } from "node:http";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessionMiddleware } from "../../src/adapters/express.js";
import { MemoryStore, SessionManager } from "../../src/index.js";
import { listen } from "../support/http.js";

describe("Express: a change after the response started is loud, not lost", () => {
  const sessions = new SessionManager<Record<string, unknown>>({ store: new MemoryStore() });
  const thrown: unknown[] = [];
  let url = "";
  let close: () => Promise<void>;

  beforeAll(async () => {
    const app = express();
    app.use(sessionMiddleware(sessions));
    app.get("/late", (req, res) => {
      req.session.set("early", 1);
      res.write("headers are out; ");
      try {
        req.session.set("late", 2);
      } catch (error) {
        thrown.push(error);
      }
      res.end("done");
    });
    ({ url, close } = await listen(createServer(app)));
  });
  afterAll(() => close());

  it("set() after res.write() throws ERR_SESSION_COMMITTED; the earlier change is stored", async () => {
    const response = await fetch(`${url}/late`);
    expect(await response.text()).toBe("headers are out; done");
    expect(thrown).toHaveLength(1);
    expect(thrown[0]).toMatchObject({ code: "ERR_SESSION_COMMITTED" });
    const token = /^sid=([^;]*)/.exec(response.headers.get("set-cookie") ?? "")?.[1];
    const stored = await sessions.load(token);
    expect(stored.get("early")).toBe(1);
    expect(stored.get("late")).toBeUndefined();
  });
});

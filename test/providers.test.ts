import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { MemoryStore, SessionManager, SessionStoreError } from "../src/index.js";
import { createStore, registerProvider } from "../src/providers/index.js";
import { importDriver } from "../src/providers/connect.js";
import { serverAvailable } from "./support/servers.js";

const redisUp = await serverAvailable("Redis", "REDIS_URL", "redis://127.0.0.1:6379");
const postgresUp = await serverAvailable("PostgreSQL", "POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test");
const mysqlUp = await serverAvailable("MariaDB", "MYSQL_URL", "mysql://root@127.0.0.1:3306/test");

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

/** TCP sockets this test process holds open: a closed manager must leave none of its own behind. */
function openSockets(): number {
  return process.getActiveResourcesInfo().filter((name) => name === "TCPSocketWrap").length;
}

/** Builds a manager by provider name, proves a load/commit/load round trip, cleans up, closes. */
async function roundTrip(provider: string, providerConfig: string): Promise<void> {
  const socketsBefore = openSockets();
  const sessions = new SessionManager<Record<string, unknown>>({ provider, providerConfig, gcInterval: 0 });
  const session = await sessions.load();
  session.set("user", "ada").set("text", "日本語 🌍");
  const [setCookie] = await sessions.commit(session);
  const cookie = /^sid=([^;]+)/.exec(setCookie ?? "")?.[1];
  expect(cookie, `${provider} sets a session cookie`).toBeDefined();
  const loaded = await sessions.load(cookie);
  expect(loaded.isNew).toBe(false);
  expect(loaded.get("user")).toBe("ada");
  expect(loaded.get("text")).toBe("日本語 🌍");
  await loaded.destroy();
  await sessions.commit(loaded);
  // A cookie session cannot be revoked server-side: its replayed cookie stays valid until it expires.
  if (provider !== "cookie") expect((await sessions.load(cookie)).isNew, "destroyed").toBe(true);
  await sessions.close();
  await new Promise((resolve) => setTimeout(resolve, 50)); // let closed sockets leave the handle list
  expect(openSockets(), `manager.close() closed the ${provider} client it created`).toBeLessThanOrEqual(socketsBefore);
}

describe("providers by name", () => {
  it('"file" takes a directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), "sessionkit-provider-"));
    dirs.push(dir);
    await roundTrip("file", dir);
    const sessions = new SessionManager({ provider: "file", providerConfig: dir, gcInterval: 0 });
    const session = await sessions.load();
    session.set("k", 1);
    await sessions.commit(session);
    expect(await readdir(dir), "files were written in the configured directory").not.toEqual([]);
    expect(await sessions.count()).toBe(1);
    await sessions.close();
  });

  it('"cookie" takes beego\'s securityKey or a secrets list', async () => {
    await roundTrip("cookie", JSON.stringify({ cookieName: "gosessionid", securityKey: "beego securityKey 4a7e0c93d1b6f258" }));
    await roundTrip("cookie", JSON.stringify({ secrets: ["newest secret: 9c2e7a05f3d1b846 e0", "older secret: 1f6b3d9e0a7c2548 d7"] }));
    const short = new SessionManager({ provider: "cookie", providerConfig: '{"securityKey":"beegocookiehashkey"}' });
    await expect(short.load(), "beego's sample key is too short to be safe").rejects.toThrow(/at least 32 characters/);
  });

  (redisUp ? it : it.skip).each(["127.0.0.1:6379", "127.0.0.1:6379,100,,0", "127.0.0.1:6379,100,,1,30", "redis://127.0.0.1:6379/0"])(
    '"redis" with %j',
    async (config) => {
      await roundTrip("redis", config);
    },
  );

  (postgresUp ? it : it.skip).each([
    "user=postgres dbname=test host=127.0.0.1 port=5432 sslmode=disable",
    "host='127.0.0.1' user=postgres dbname=test connect_timeout=5",
    "postgres://postgres@127.0.0.1:5432/test",
    "postgresql://postgres@127.0.0.1:5432/test?sslmode=disable",
  ])('"postgresql" with %j', async (config) => {
    await roundTrip("postgresql", config);
  });

  (mysqlUp ? it : it.skip).each([
    "root@tcp(127.0.0.1:3306)/test?charset=utf8mb4&parseTime=true&loc=Local",
    "root:@tcp(127.0.0.1:3306)/test?timeout=5s",
    "mysql://root@127.0.0.1:3306/test",
  ])('"mysql" with %j', async (config) => {
    await roundTrip("mysql", config);
  });

  it("a provider that cannot connect fails the first load with SessionStoreError", async () => {
    const sessions = new SessionManager({ provider: "postgresql", providerConfig: "host=127.0.0.1 port=1 user=x dbname=x connect_timeout=2", gcInterval: 0 });
    await expect(sessions.load("x".repeat(43))).rejects.toThrow(SessionStoreError);
    await sessions.close();
  });
});

describe("registerProvider and errors", () => {
  it("calls a custom factory once with the config, and closes its store on manager.close()", async () => {
    const calls: string[] = [];
    let closed = 0;
    registerProvider("custom-for-test", (config) => {
      calls.push(config);
      const store = new MemoryStore();
      return Object.assign(store, { close: () => void closed++ });
    });
    const sessions = new SessionManager({ provider: "custom-for-test", providerConfig: "some config" });
    const session = await sessions.load();
    session.set("a", 1);
    const [cookie] = await sessions.commit(session);
    await sessions.load(/^sid=([^;]+)/.exec(cookie!)![1]);
    expect(calls).toEqual(["some config"]);
    await sessions.close();
    expect(closed).toBe(1);
  });

  it("never closes a store the application passed in", async () => {
    let closed = 0;
    const store = Object.assign(new MemoryStore(), { close: () => void closed++ });
    await new SessionManager({ store }).close();
    expect(closed).toBe(0);
  });

  it("names the registered providers when the name is unknown", () => {
    expect(() => new SessionManager({ provider: "mongo" })).toThrow(TypeError);
    expect(() => new SessionManager({ provider: "mongo" })).toThrow(/unknown provider "mongo"; registered: .*"file", "cookie", "redis", "postgresql", "mysql"/);
  });

  it.each([
    ["redis", "localhost"],
    ["postgresql", "usr=postgres"],
    ["mysql", "root@tcp(127.0.0.1:3306)"],
    ["cookie", "not json"],
    ["file", ""],
  ])('a malformed %s config is a TypeError from the constructor, naming the provider and the expected forms', (provider, config) => {
    expect(() => new SessionManager({ provider, providerConfig: config })).toThrow(TypeError);
    expect(() => new SessionManager({ provider, providerConfig: config })).toThrow(new RegExp(`provider "${provider}": .*expected`));
  });

  it("createStore makes the store without a manager, and throws a malformed config at once", async () => {
    const store = await createStore("memory");
    expect(store).toBeInstanceOf(MemoryStore);
    const sessions = new SessionManager<Record<string, unknown>>({ store, gcInterval: 0 });
    const session = await sessions.load();
    session.set("user", "ada");
    const [cookie] = await sessions.commit(session);
    expect((await sessions.load(/^sid=([^;]+)/.exec(cookie!)![1])).get("user")).toBe("ada");
    expect(() => createStore("redis", "localhost")).toThrow(/provider "redis": .*expected/);
    expect(() => createStore("mongo")).toThrow(/unknown provider "mongo"/);
  });

  it("tells which package to install when a driver is missing", async () => {
    await expect(importDriver("sessionkit-no-such-driver", "example")).rejects.toThrow(TypeError);
    await expect(importDriver("sessionkit-no-such-driver", "example")).rejects.toThrow(
      'install sessionkit-no-such-driver to use provider "example" (npm install sessionkit-no-such-driver)',
    );
  });
});

describe("the registry is outside the core", () => {
  const root = join(import.meta.dirname, "..");
  const nodeEval = (code: string) => promisify(execFile)(process.execPath, ["--input-type=module", "-e", code], { cwd: root });

  it("the core entry alone loads no provider and says how to get them; the node condition keeps provider: working", async () => {
    // dist/index.js is what a Workers bundle resolves `sessionkit` to (no "node" condition).
    const core = await nodeEval(`
      const { SessionManager } = await import("./dist/index.js");
      try { new SessionManager({ provider: "memory" }); } catch (e) { console.log(e.name + ": " + e.message); }`);
    expect(core.stdout).toBe(
      'TypeError: option "provider" needs the provider registry: import "sessionkit/providers" once, or better pass store: await createStore(provider, providerConfig) from "sessionkit/providers"\n',
    );
    // By package name on Node: the "node" condition adds the registry, and warns once that the option goes.
    const compat = await nodeEval(`
      process.on("warning", (w) => console.log(w.code));
      const { SessionManager } = await import("sessionkit");
      const sessions = new SessionManager({ provider: "memory", gcInterval: 0 });
      new SessionManager({ provider: "memory", gcInterval: 0 });
      const session = await sessions.load();
      session.set("n", 1);
      console.log((await sessions.commit(session)).length);`);
    expect(compat.stdout).toBe("1\nSESSIONKIT_PROVIDER_OPTION\n");
  });
});

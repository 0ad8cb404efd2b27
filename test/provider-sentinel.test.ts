import { describe, expect, it } from "vitest";
import { isRedisSentinelConfig, parseRedisConfig, parseRedisSentinelConfig } from "../src/providers/config.js";

describe("parseRedisSentinelConfig (the redis provider's sentinel:// form)", () => {
  it("reads the sentinels, the master group name, credentials, database and the durable-write options", () => {
    expect(parseRedisSentinelConfig("sentinel://10.0.0.1:26379,10.0.0.2:26379,[::1]:26380/mymaster")).toEqual({
      name: "mymaster",
      sentinelRootNodes: [{ host: "10.0.0.1", port: 26379 }, { host: "10.0.0.2", port: 26379 }, { host: "::1", port: 26380 }],
      nodeClientOptions: {},
      store: {},
    });
    expect(parseRedisSentinelConfig("sentinel://app:p%40ss@h:26379/cache/2?waitReplicas=1&waitTimeout=250ms")).toEqual({
      name: "cache",
      sentinelRootNodes: [{ host: "h", port: 26379 }],
      nodeClientOptions: { username: "app", password: "p@ss", database: 2 },
      store: { waitReplicas: 1, waitTimeout: 250 },
    });
    expect(parseRedisSentinelConfig("SENTINEL://:secret@h:1/m").nodeClientOptions).toEqual({ password: "secret" });
  });

  it("is recognised by its scheme; the other redis forms are not", () => {
    expect(isRedisSentinelConfig(" sentinel://h:1/m")).toBe(true);
    expect(isRedisSentinelConfig("redis://h:1")).toBe(false);
    expect(isRedisSentinelConfig("h:6379")).toBe(false);
  });

  it("refuses a malformed string with a TypeError naming the provider and every accepted form", () => {
    for (const bad of ["sentinel://", "sentinel://h:1", "sentinel://h:1/", "sentinel://h/m", "sentinel://h:99999/m", "sentinel://h:1,/m", "sentinel://h:1/m?waitReplicas=x", "sentinel://h:1/m?poolsize=3"]) {
      expect(() => parseRedisSentinelConfig(bad), bad).toThrow(TypeError);
      expect(() => parseRedisSentinelConfig(bad), bad).toThrow(/provider "redis".*expected .*"sentinel:\/\/\[\[user\]:password@\]host:port\[,host:port\.\.\.\]\/mastername/);
    }
    expect(() => parseRedisSentinelConfig("sentinel://h:1/m?waitTimeout=soon")).toThrow(/option "waitTimeout" must be/);
  });

  it("the plain forms still name the sentinel form when they fail", () => {
    expect(() => parseRedisConfig("localhost")).toThrow(/or "sentinel:\/\//);
  });
});

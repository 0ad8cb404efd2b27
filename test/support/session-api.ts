import { expect } from "vitest";

/**
 * What an app's "every member" route answers after calling the whole Session API in one request
 * (set a, b, c; has, get, pop, delete, keys, toJSON, clear; set kept; regenerate; signIn): the
 * cross-adapter app (test/adapters/app.ts, everyMember) and each built framework app's route do
 * the same steps.
 */
export function everyMemberReport(userId: string): Record<string, unknown> {
  return {
    has: true,
    get: 1,
    pop: 1,
    hasAfterPop: false,
    delete: true,
    keys: ["c"],
    json: { c: 3 },
    cleared: [],
    userId,
    handle: expect.stringMatching(/^[A-Za-z0-9_-]+$/),
    superseded: false,
  };
}

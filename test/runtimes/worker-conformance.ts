// A Worker that runs the store conformance suite against DurableObjectStore inside workerd and
// answers the report as JSON: { passed, failed: [{ case, error }], skipped: [{ case, note }] }.
import { DurableObjectStore, SessionObject } from "sessionkit/cloudflare";
import type { DurableObjectNamespaceLike } from "sessionkit/cloudflare";
import { conformanceCases } from "sessionkit/testing";

export { SessionObject };

export default {
  async fetch(request: Request, env: { SESSIONS: DurableObjectNamespaceLike }): Promise<Response> {
    // Every case gets its own objects: a fresh prefix is a fresh, empty store.
    const factory = () => new DurableObjectStore({ namespace: env.SESSIONS, prefix: `${crypto.randomUUID()}:` });
    const report = { passed: 0, failed: [] as Array<{ case: string; error: string }>, skipped: [] as Array<{ case: string; note: string }> };
    const index = new URL(request.url).searchParams.get("case");
    const cases = conformanceCases(factory);
    for (const c of index === null ? cases : cases.slice(Number(index), Number(index) + 1)) {
      let note: string | undefined;
      try {
        await c.run({ skip: (why) => void (note = why ?? "") });
        if (note === undefined) report.passed++;
        else report.skipped.push({ case: c.name, note });
      } catch (error) {
        report.failed.push({ case: c.name, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      }
    }
    return Response.json(report);
  },
};

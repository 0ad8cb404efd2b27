// A Worker that runs the store conformance suite against SqliteStore over a D1 binding inside
// workerd and answers the report as JSON: { passed, failed: [{ case, error }], skipped: [{ case, note }] }.
import { SqliteStore } from "sessionkit/sqlite";
import type { D1DatabaseLike } from "sessionkit/sqlite";
import { conformanceCases } from "sessionkit/testing";

export default {
  async fetch(request: Request, env: { DB: D1DatabaseLike }): Promise<Response> {
    // Every case gets its own table: a fresh name is a fresh, empty store (made at its first call).
    const tables = new WeakMap<SqliteStore, string>();
    const factory = () => {
      const tableName = `s_${crypto.randomUUID().replaceAll("-", "")}`;
      const store = new SqliteStore({ database: env.DB, tableName });
      if (store.driver !== "d1") throw new Error(`SqliteStore took the D1 binding for ${store.driver}`);
      tables.set(store, tableName);
      return store;
    };
    const cleanup = async (store: SqliteStore) => {
      await store.close();
      await env.DB.prepare(`DROP TABLE IF EXISTS "${tables.get(store)}"`).run();
    };
    const report = { passed: 0, failed: [] as Array<{ case: string; error: string }>, skipped: [] as Array<{ case: string; note: string }> };
    const index = new URL(request.url).searchParams.get("case");
    const cases = conformanceCases(factory, { cleanup: (store) => cleanup(store as SqliteStore) });
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

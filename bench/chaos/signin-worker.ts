/**
 * A process that signs one user in again and again, each time on a stored anonymous session (so
 * the sign-in rotates a record), with a cap of 3 sessions. The parent SIGKILLs it at a random
 * instant, so some kills land between a sign-in's writes (bench/chaos/signin-kills.ts).
 *   node --import tsx bench/chaos/signin-worker.ts <kind> <where> <userId>
 */
import { SessionManager } from "../../src/index.js";
import { openStore } from "./signin-stores.js";

const [kind, where, userId] = process.argv.slice(2) as [string, string, string];
const { store } = await openStore(kind, where);
const sessions = new SessionManager<{ visits: number }>({ store, gcInterval: 0, maxSessionsPerUser: 3 });
const tokenOf = (cookies: string[]) => /^sid=([^;]*)/.exec(cookies[0] ?? "")![1]!;

console.log("ready");
for (;;) {
  const anonymous = await sessions.load();
  anonymous.set("visits", 1);
  const session = await sessions.load(tokenOf(await sessions.commit(anonymous)));
  await session.signIn(userId);
  await sessions.commit(session);
}

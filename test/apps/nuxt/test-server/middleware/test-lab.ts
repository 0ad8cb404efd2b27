// Test-only (copied into server/ beside the documented files): the lab manager's middleware, on the
// /lab/ routes only. Nitro runs server/middleware files by name, so this one runs after the
// documented session.ts and its session is the one useSession(event) returns there.
import { defineEventHandler } from "h3";
import type { H3Event } from "h3";
import { sessionMiddleware } from "sessionkit/h3";
import { labSessions } from "../utils/lab-sessions";

// On h3 1 (Nitro 2) the middleware is an event handler: Nitro calls it with the event alone.
const lab = sessionMiddleware(labSessions) as unknown as (event: H3Event) => Promise<void>;

export default defineEventHandler((event) => (event.path.startsWith("/lab/") ? lab(event) : undefined));

import { json } from "@sveltejs/kit";
import type { RequestHandler } from "./$types";

export const GET: RequestHandler = ({ locals }) => json({ data: locals.session.toJSON(), userId: locals.session.userId ?? null });

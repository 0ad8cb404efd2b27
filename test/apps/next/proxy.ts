import { NextResponse, type NextRequest } from "next/server";
import { hasSession } from "sessionkit/next";
import { sessions } from "./lib/sessions";

// Runs on the Node.js runtime (the default for proxy.ts): a read-only check, no store write.
export async function proxy(request: NextRequest) {
  if (await hasSession(sessions, request)) return NextResponse.next();
  return NextResponse.redirect(new URL("/sign-in", request.url));
}

export const config = { matcher: "/private" };

import type { ReactNode } from "react";
import { Links, Meta, Outlet, Scripts } from "react-router";
import { sessionCacheControl } from "sessionkit/react-router";
import { hostSessions, sessions } from "./sessions.server";

// A response that sets the session cookie is never stored by a shared cache.
export const middleware = [sessionCacheControl(sessions), sessionCacheControl(hostSessions)];

export function Layout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <head>
        <Meta />
        <Links />
      </head>
      <body>
        {children}
        <Scripts />
      </body>
    </html>
  );
}

export default function App() {
  return <Outlet />;
}

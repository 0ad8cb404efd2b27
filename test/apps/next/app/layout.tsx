import { type ReactNode, Suspense } from "react";

// With cacheComponents, a page that reads the session (request data) renders under <Suspense>.
export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <Suspense>{children}</Suspense>
      </body>
    </html>
  );
}

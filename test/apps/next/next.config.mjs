import { fileURLToPath } from "node:url";

/** @type {import("next").NextConfig} */
export default {
  // create-next-app's default since Next.js 16: a session read must sit under <Suspense>.
  cacheComponents: true,
  // The repository root: where node_modules (and sessionkit itself, by self-reference) live.
  turbopack: { root: fileURLToPath(new URL("../../..", import.meta.url)) },
};

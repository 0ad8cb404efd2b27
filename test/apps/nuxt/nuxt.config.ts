import { fileURLToPath } from "node:url";

// sessionkit is the repository's build (npm test builds dist/ first), bundled into the server.
const dist = (path: string) => fileURLToPath(new URL(`../../../dist/${path}`, import.meta.url));

export default defineNuxtConfig({
  compatibilityDate: "2025-07-15",
  devtools: { enabled: false },
  telemetry: false,
  nitro: {
    alias: {
      "sessionkit/h3": dist("adapters/h3.js"),
      sessionkit: dist("index.js"),
    },
  },
});

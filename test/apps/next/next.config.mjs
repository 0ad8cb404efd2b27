import { fileURLToPath } from "node:url";

/** @type {import("next").NextConfig} */
export default {
  // The repository root: where node_modules (and sessionkit itself, by self-reference) live.
  turbopack: { root: fileURLToPath(new URL("../../..", import.meta.url)) },
};

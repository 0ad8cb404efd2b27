import { fileURLToPath } from "node:url";
import adapter from "@sveltejs/adapter-node";
import { sveltekit } from "@sveltejs/kit/vite";
import { defineConfig } from "vite";

// The app uses the built package (../../../dist) under its public names, as an installed one would be.
const dist = (path) => fileURLToPath(new URL(`../../../dist/${path}`, import.meta.url));

export default defineConfig({
  plugins: [sveltekit({ adapter: adapter() })],
  resolve: {
    alias: [
      { find: /^sessionkit\/sveltekit$/, replacement: dist("adapters/sveltekit.js") },
      { find: /^sessionkit$/, replacement: dist("index.js") },
    ],
  },
  logLevel: "warn",
});

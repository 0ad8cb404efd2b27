import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", ".ci/", "scratch/", "coverage/", "bench/results/", "bench/.build/", ".sessions/", "test/apps/*/build/", "test/apps/*/.svelte-kit/", "test/apps/*/.next/", "test/apps/*/.react-router/", "test/apps/*/.nuxt/", "test/apps/*/.output/", "test/apps/nuxt/server/", "test/apps/next/next-env.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", URL: "readonly", AbortController: "readonly", fetch: "readonly", Request: "readonly", Response: "readonly", Headers: "readonly" } },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
);

/**
 * `sessionkit` under the "node" export condition (Node, Bun, Deno): the core plus the provider
 * registry, so the deprecated `provider:` option keeps working for this release without an import
 * of `sessionkit/providers`. Workers bundles resolve `sessionkit` to ./index.js, which has no
 * driver loaders. Removed with the `provider:` option in the next minor release.
 */
export * from "./index.js";
import "./providers/index.js";
// Was exported by `sessionkit` until 0.2; its types now live in `sessionkit/providers` only.
export { registerProvider } from "./providers/index.js";

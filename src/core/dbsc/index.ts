export type { DbscOptions } from "./options.js";
export type { DbscAlgorithm } from "./jwt.js";
export { serveDbsc, serveDbscFetch } from "./http.js";

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/**
 * Loads an optional peer driver only when a store needs it (to create its own pool), so
 * `import "sessionkit/postgres"` works without `pg` installed (an app that passes its own pool has
 * it anyway), and a missing driver is an instruction rather than Node's bare "Cannot find module".
 * Synchronous (require) because store constructors are; pg and mysql2 are CommonJS packages whose
 * ESM entry re-exports the same objects, so a pool made here is the one `import pg` would make.
 */
export function requireDriver<M>(specifier: string, subpath: string, packageName = specifier): M {
  try {
    return require(specifier) as M;
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    // Only the driver itself missing: a broken dependency inside the driver keeps its own error.
    if (code === "MODULE_NOT_FOUND" && String(message).startsWith(`Cannot find module '${specifier}'`)) {
      throw new TypeError(`install ${packageName} to use ${subpath} (npm install ${packageName})`, { cause: error });
    }
    throw error;
  }
}

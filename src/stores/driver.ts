import { createRequire } from "node:module";

/** Made at the first use, not at load: a bundle (Workers) has no import.meta.url to make it from. */
let require: NodeJS.Require | undefined;

/**
 * Optional peers are loaded only when they are needed, so importing a subpath never fails for a
 * missing driver or framework, and a missing one is an instruction ("install pg to use …")
 * rather than Node's bare "Cannot find package". Only the package itself missing is translated:
 * a broken dependency inside it keeps its own error.
 */
function missingPeer(error: unknown, specifier: string, packageName: string, use: string): Error {
  const { code, message } = (error ?? {}) as NodeJS.ErrnoException;
  const notFound = code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
  const names = [`'${specifier}'`, `'${packageName}'`];
  if (notFound && names.some((name) => String(message).includes(name))) {
    return new TypeError(`install ${packageName} to use ${use} (npm install ${packageName})`, { cause: error });
  }
  return error as Error;
}

/**
 * Synchronous, for store constructors (a store that makes its own pool). pg and mysql2 are
 * CommonJS packages whose ESM entry re-exports the same objects, so a pool made here is the one
 * `import pg` would make.
 */
export function requireDriver<M>(specifier: string, use: string, packageName = specifier): M {
  try {
    require ??= createRequire(import.meta.url);
    return require(specifier) as M;
  } catch (error) {
    throw missingPeer(error, specifier, packageName, use);
  }
}

/** For ESM-only peers (h3) and the provider factories, which are async anyway. */
export async function importPeer<M>(specifier: string, use: string, packageName = specifier): Promise<M> {
  try {
    return (await import(specifier)) as M;
  } catch (error) {
    throw missingPeer(error, specifier, packageName, use);
  }
}

import type { AnyStore, Awaitable } from "./store.js";

/**
 * The manager's one link to the provider registry, which lives outside the core in
 * `sessionkit/providers` (its drivers' loaders cannot be bundled for Workers). Importing that
 * entry installs the resolver here; on Node, Bun and Deno the package's "node" export condition
 * imports it with `sessionkit`, so `new SessionManager({ provider })` keeps working for this
 * release. The core itself never imports the registry.
 */
export type ProviderResolver = (name: string, providerConfig: string) => Awaitable<AnyStore>;

let resolver: ProviderResolver | undefined;

/** Called by `sessionkit/providers` when it loads. */
export function installProviderResolver(resolve: ProviderResolver): void {
  resolver = resolve;
}

/** The store of a named provider; a TypeError naming the fix when the registry was never loaded. */
export function resolveProvider(name: string, providerConfig: string): Awaitable<AnyStore> {
  if (!resolver) {
    throw new TypeError(
      'option "provider" needs the provider registry: import "sessionkit/providers" once, ' +
        'or better pass store: await createStore(provider, providerConfig) from "sessionkit/providers"',
    );
  }
  return resolver(name, providerConfig);
}

import type { AnyStore, Awaitable } from "./store.js";

/** Makes a store from a beego-style configuration string. Called once per manager. */
export type ProviderFactory = (providerConfig: string) => Awaitable<AnyStore>;

const providers = new Map<string, ProviderFactory>();

/** Registers a provider name for `new SessionManager({ provider, providerConfig })` (beego's Register). */
export function registerProvider(name: string, factory: ProviderFactory): void {
  if (typeof name !== "string" || name === "") throw new TypeError("registerProvider: name must be a non-empty string");
  if (typeof factory !== "function") throw new TypeError(`registerProvider("${name}"): factory must be a function`);
  providers.set(name, factory);
}

export function getProvider(name: string): ProviderFactory {
  const factory = providers.get(name);
  if (!factory) {
    const known = [...providers.keys()].map((n) => JSON.stringify(n)).join(", ");
    throw new TypeError(`option "provider": unknown provider ${JSON.stringify(name)}; registered: ${known}`);
  }
  return factory;
}

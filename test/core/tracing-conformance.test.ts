/**
 * The store contract with every sessionkit channel subscribed: tracing runs the same work on
 * another path (a subscriber's stores bound, results wrapped), which must keep every guarantee.
 * A file of its own, as the subscriptions last for the whole process.
 */
import diagnostics from "node:diagnostics_channel";
import { it } from "vitest";
import { MemoryStore, SESSIONKIT_CHANNELS } from "../../src/index.js";
import { storeConformance } from "../../src/testing/index.js";

for (const [key, name] of Object.entries(SESSIONKIT_CHANNELS)) {
  if (key === "ended") diagnostics.subscribe(name, () => {});
  else diagnostics.tracingChannel(name).subscribe({ start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} });
}

await storeConformance("MemoryStore, every channel subscribed", () => new MemoryStore(), { test: it });

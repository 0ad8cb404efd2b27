import { existsSync } from "node:fs";
import type { Browser } from "playwright-core";
import { chromium } from "playwright-core";

/** Debian's Chromium (`.ci/chromium.sh` installs it): playwright-core never downloads a browser. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/**
 * True when Chromium is installed. Otherwise throws under CI=true, and elsewhere prints one loud
 * line and resolves false (the caller skips), as for the database servers.
 */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const message = `Chromium is not installed at ${CHROMIUM}: run bash .ci/chromium.sh or set CHROMIUM_PATH`;
  if (process.env.CI === "true") throw new Error(`${message} (CI=true: a missing browser fails the run)`);
  console.warn(`\n!!! SKIPPING the browser tests: ${message}.\n`);
  return false;
}

/** Headless Chromium with a fresh temporary profile (Playwright's own launch makes one). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

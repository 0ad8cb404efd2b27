import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumAvailable, launchChromium } from "../support/chromium.js";
import type { RunningDemo } from "../support/demo.js";
import { startDemo } from "../support/demo.js";

// The demo clicked through in a real browser: two browser contexts are two devices of one user.
const ARTIFACTS = join(import.meta.dirname, "..", "..", "artifacts");

describe.runIf(chromiumAvailable())("the demo in Chromium", () => {
  let demo: RunningDemo;
  let browser: Browser;
  const devices: BrowserContext[] = [];

  beforeAll(async () => {
    [demo, browser] = await Promise.all([startDemo(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    demo?.stop();
  });

  const ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36";

  /** A new device: its own cookie jar; a phone's width (and, given, a phone's User-Agent). */
  async function device(userAgent?: string): Promise<Page> {
    const context = await browser.newContext({ baseURL: demo.base, viewport: { width: 390, height: 760 }, ...(userAgent ? { userAgent } : {}) });
    devices.push(context);
    return context.newPage();
  }

  const sessionCookie = async (page: Page) => (await page.context().cookies()).find((cookie) => cookie.name === "sid");

  /** Opens the home page and signs in there; resolves the anonymous session's cookie value. */
  async function signIn(page: Page, user: string): Promise<string | undefined> {
    await page.goto("/");
    const anonymous = (await sessionCookie(page))?.value;
    await page.getByLabel("name").fill(user);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL("/");
    return anonymous;
  }

  it("signs in on two devices, lists both, and signs the other out from one", async () => {
    const [phone, laptop] = [await device(ANDROID), await device()];
    const anonymous = await signIn(phone, "grace");
    expect(anonymous).toBeDefined();
    expect((await sessionCookie(phone))?.value).not.toBe(anonymous); // the id rotates at sign-in
    await expect.poll(() => phone.getByRole("status").textContent()).toBe("Welcome, grace!");
    await phone.reload();
    expect(await phone.getByRole("status").count()).toBe(0); // the flash shows once
    expect(await phone.textContent("body")).toContain("Signed in as grace. Visits this session: 3."); // one counter per session, kept across the rotation
    await signIn(laptop, "grace");

    await phone.getByRole("link", { name: "Your sessions" }).click();
    await phone.waitForURL("/sessions");
    const items = phone.locator("li");
    expect(await items.count()).toBe(2);
    expect(await phone.locator("li.current").count()).toBe(1);
    // Newest sign-in first: the laptop, then this phone, each with its browser and IP.
    expect(await items.first().textContent()).toMatch(/Chrome on Linux · 127\.0\.0\.1/);
    expect(await phone.locator("li.current").textContent()).toMatch(/Chrome on Android · 127\.0\.0\.1[\s\S]*This device/);
    mkdirSync(ARTIFACTS, { recursive: true });
    await phone.screenshot({ path: join(ARTIFACTS, "demo-sessions.png"), fullPage: true });

    await phone.getByRole("button", { name: "Sign out everywhere else" }).click();
    await phone.waitForURL("/sessions");
    expect(await phone.getByRole("status").textContent()).toBe("Signed out 1 other session.");
    expect(await phone.locator("li").count()).toBe(1);

    await laptop.goto("/");
    expect(await laptop.textContent("body")).toContain("Not signed in.");
    await phone.goto("/");
    expect(await phone.textContent("body")).toContain("Signed in as grace.");
  });

  it("keeps the session cookie away from page scripts (HttpOnly)", async () => {
    const page = await device();
    await signIn(page, "ada");
    const cookie = await sessionCookie(page);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax" });
    expect(await page.evaluate(() => document.cookie)).not.toContain("sid");
  });

  it("sign out expires the cookie in the browser's jar", async () => {
    const page = await device();
    await signIn(page, "alan");
    expect(await sessionCookie(page)).toBeDefined();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL("/signed-out");
    expect(await page.textContent("body")).toContain("You are signed out.");
    expect(await sessionCookie(page)).toBeUndefined();
  });
});

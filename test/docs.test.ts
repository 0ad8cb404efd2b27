import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";

// Every import path the docs show must exist in the exports map and in the build (npm test builds first).
const root = join(import.meta.dirname, "..");
const exportsMap = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { exports: Record<string, { default?: string } | string> }).exports;

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? markdownFiles(join(dir, entry.name)) : entry.name.endsWith(".md") ? [join(dir, entry.name)] : [],
  );
}

it("every sessionkit import path in README.md and docs/ is exported and built", () => {
  const files = [join(root, "README.md"), ...markdownFiles(join(root, "docs"))];
  const paths = new Set<string>();
  for (const file of files) {
    for (const match of readFileSync(file, "utf8").matchAll(/from "(sessionkit(?:\/[a-z-]+)?)"/g)) paths.add(match[1]!);
  }
  expect(paths.size).toBeGreaterThanOrEqual(3);
  for (const path of paths) {
    const entry = exportsMap[path === "sessionkit" ? "." : `.${path.slice("sessionkit".length)}`];
    expect(entry, `${path} is in package.json exports`).toBeDefined();
    const target = typeof entry === "string" ? entry : entry!.default!;
    expect(existsSync(join(root, target)), `${path} → ${target} is built`).toBe(true);
  }
});

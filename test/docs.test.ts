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

/** Every name an entry point's source exports: declarations and `export { … }` lists, types included. */
function exportedNames(source: string): string[] {
  const names: string[] = [];
  for (const match of source.matchAll(/^export (?:declare )?(?:async )?(?:function\*?|class|interface|type|const|let|enum) ([A-Za-z_$][\w$]*)/gm)) names.push(match[1]!);
  for (const match of source.matchAll(/^export (?:type )?\{([^}]*)\}/gm)) {
    for (const item of match[1]!.split(",")) {
      const name = item.trim().replace(/^type /, "").split(/\s+as\s+/).pop()!.trim();
      if (name) names.push(name);
    }
  }
  expect(source, "an entry point re-exports with `export *`: list the names instead").not.toMatch(/^export \*/m);
  return names;
}

// An export is public API: adding one without naming it in README.md or docs/ fails here, so
// nothing reaches users (or stays exported for tests only) without being documented.
it("every name every entry point exports is documented in README.md or docs/", () => {
  const docs = [join(root, "README.md"), ...markdownFiles(join(root, "docs"))].map((file) => readFileSync(file, "utf8")).join("\n");
  const undocumented: string[] = [];
  let checked = 0;
  for (const [subpath, entry] of Object.entries(exportsMap)) {
    if (subpath === "./package.json") continue;
    const built = typeof entry === "string" ? entry : entry.default!;
    const source = join(root, built.replace(/^\.\/dist\//, "src/").replace(/\.js$/, ".ts"));
    for (const name of exportedNames(readFileSync(source, "utf8"))) {
      checked++;
      if (!new RegExp(`\\b${name.replace(/\$/g, "\\$")}\\b`).test(docs)) undocumented.push(`${subpath}: ${name}`);
    }
  }
  expect(checked).toBeGreaterThan(50);
  expect(undocumented).toEqual([]);
});

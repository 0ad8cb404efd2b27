import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
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

// Every ```ts and ```tsx block of README.md and docs/ is type-checked as written, against the
// built package (the self-reference "sessionkit" resolves through package.json exports to dist/)
// and the frameworks' real types, in one tsc program. A block's files: a line `// path.ts` at its
// start (or after a blank line) opens a file at that path, so blocks of one page import each other
// (`../lib/sessions`); other blocks are modules of their own. A block that is only a fragment is
// marked ```ts nocheck, which readers see as a plain TypeScript block.
interface SnippetFile {
  path: string;
  doc: string;
  line: number;
  text: string;
}

function snippetFiles(doc: string): SnippetFile[] {
  const text = readFileSync(join(root, doc), "utf8");
  const files: SnippetFile[] = [];
  for (const match of text.matchAll(/^```(ts|tsx)( [^\n]*)?\n([\s\S]*?)^```$/gm)) {
    if (match[2]?.includes("nocheck")) continue;
    const start = text.slice(0, match.index).split("\n").length + 1;
    const lines = match[3]!.split("\n");
    let current: SnippetFile = { path: `snippet-${start}.${match[1]}`, doc, line: start, text: "" };
    lines.forEach((line, index) => {
      const named = /^\/\/ ([\w.$+/[\]-]+\.tsx?)(?: |$)/.exec(line);
      if (named && (index === 0 || lines[index - 1] === "")) {
        if (current.text.trim()) files.push(current);
        current = { path: named[1]!, doc, line: start + index, text: "" };
      }
      current.text += `${line}\n`;
    });
    if (current.text.trim()) files.push(current);
  }
  return files;
}

it("every TypeScript block of README.md and docs/ type-checks against the built package", async () => {
  const docs = ["README.md", ...markdownFiles(join(root, "docs")).map((file) => file.slice(root.length + 1))];
  mkdirSync(join(root, "scratch"), { recursive: true }); // gitignored: absent in a fresh clone
  const dir = mkdtempSync(join(root, "scratch", "docs-snippets-"));
  try {
    const written = new Map<string, SnippetFile>();
    for (const doc of docs) {
      for (const file of snippetFiles(doc)) {
        const target = join(dir, doc.replace(/\.md$/, ""), file.path);
        expect(written.has(target), `${doc}:${file.line} names ${file.path} a second time`).toBe(false);
        written.set(target, file);
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, `${file.text}export {};\n`); // a module, even without import/export
      }
    }
    expect(written.size).toBeGreaterThanOrEqual(30);
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          // As the frameworks' own apps resolve (extensionless relative imports, next/navigation).
          module: "ESNext",
          moduleResolution: "Bundler",
          lib: ["ES2023", "DOM", "DOM.Iterable"],
          types: ["node"],
          jsx: "react-jsx",
          strict: true,
          skipLibCheck: true,
          noEmit: true,
          experimentalDecorators: true, // NestJS's parameter decorators
          emitDecoratorMetadata: true,
        },
        include: ["**/*.ts", "**/*.tsx"],
      }),
    );
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const result = await promisify(execFile)(process.execPath, [tsc, "-p", dir], { cwd: dir }).catch((error: { stdout: string }) => error);
    // Point each error at the Markdown line it comes from.
    const report = result.stdout.replace(/^(\S+?\.tsx?)\((\d+),(\d+)\)/gm, (whole, path: string, line: string) => {
      const file = written.get(join(dir, path));
      return file ? `${file.doc}:${file.line + Number(line) - 1}` : whole;
    });
    expect(report).toBe("");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

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

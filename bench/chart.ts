/**
 * bench/results/chart.svg from latest.json: req/s and server CPU per request, per store and
 * framework, for the bare framework, the floor (one raw store round trip), sessionkit and its peers.
 * A small SVG writer rather than a charting library: the chart is a table with bars, and plain
 * SVG renders on GitHub and in any browser without scripts.
 *
 *   npx tsx bench/chart.ts            # regenerate from bench/results/latest.json
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Row } from "./report.js";

/** The fields of a results row the chart reads; CPU and kind are absent from older results. */
export type ChartRow = Pick<Row, "id" | "library" | "store" | "framework" | "route" | "requestsPerSecond" | "valid"> & {
  cpuMicrosPerRequest?: number;
  kind?: Kind;
};

export interface ChartInput {
  date?: string;
  environment?: Record<string, string | number>;
  settings?: { mode?: string };
  rows: ChartRow[];
}

type Kind = "bare" | "floor" | "sessionkit" | "peer";

const COLOURS: Record<Kind, string> = { bare: "#adb5bd", floor: "#63e6be", sessionkit: "#1c7ed6", peer: "#f59f00" };
const KIND_ORDER: Kind[] = ["bare", "floor", "sessionkit", "peer"];
const LABEL_WIDTH = 290;
const COLUMN_WIDTH = 190;
const BAR_ROOM = 120; // the rest of a column holds the value's text
const ROW_HEIGHT = 18;
const GROUP_GAP = 26;
const TOP = 112;

interface Column {
  title: string;
  route: string;
  value: (row: ChartRow) => number | undefined;
  format: (value: number) => string;
}

interface Contestant {
  label: string;
  kind: Kind;
  valid: boolean;
  byRoute: Map<string, ChartRow>;
}

/** Older results have no `kind`: it follows from the ids and labels the benchmark uses. */
function kindOf(row: ChartRow): Kind {
  if (row.kind) return row.kind;
  if (row.store === "none") return "bare";
  if (row.id.startsWith("floor-")) return "floor";
  return row.library === "sessionkit" ? "sessionkit" : "peer";
}

/**
 * Groups of one framework and store, in the order the run listed them; inside: the bare framework
 * (the reference every group is read against), the floor, sessionkit, then the peers.
 */
function groups(rows: ChartRow[]): Array<{ title: string; contestants: Contestant[] }> {
  const byGroup = new Map<string, Map<string, Contestant>>();
  const add = (title: string, row: ChartRow) => {
    const group = byGroup.get(title) ?? new Map<string, Contestant>();
    byGroup.set(title, group);
    const contestant = group.get(row.id) ?? { label: row.library, kind: kindOf(row), valid: true, byRoute: new Map() };
    contestant.valid &&= row.valid;
    contestant.byRoute.set(row.route, row);
    group.set(row.id, contestant);
  };
  const withStore = rows.filter((row) => row.store !== "none");
  for (const row of withStore) add(`${row.framework} · ${row.store}`, row);
  for (const row of rows.filter((r) => r.store === "none")) {
    const stores = new Set(withStore.filter((r) => r.framework === row.framework).map((r) => r.store));
    if (stores.size === 0) add(`${row.framework} · no sessions`, row);
    for (const store of stores) add(`${row.framework} · ${store}`, row);
  }
  return [...byGroup].map(([title, group]) => ({
    title,
    contestants: [...group.values()].sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind)),
  }));
}

function columns(rows: ChartRow[]): Column[] {
  const routes = [...new Set(rows.map((row) => row.route))];
  const perSecond = routes.map((route): Column => ({
    title: `req/s ${route}`,
    route,
    value: (row) => row.requestsPerSecond,
    format: (value) => Math.round(value).toLocaleString("en-US"),
  }));
  if (!rows.some((row) => typeof row.cpuMicrosPerRequest === "number")) return perSecond;
  const cpu = routes.map((route): Column => ({
    title: `CPU µs/request ${route}`,
    route,
    value: (row) => row.cpuMicrosPerRequest,
    format: (value) => value.toFixed(value < 100 ? 1 : 0),
  }));
  return [...perSecond, ...cpu];
}

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

function text(x: number, y: number, content: string, attributes = ""): string {
  return `<text x="${x}" y="${y}" ${attributes}>${escapeXml(content)}</text>`;
}

export function renderChart(input: ChartInput): string {
  const cols = columns(input.rows);
  const parts: string[] = [];
  let y = TOP;
  for (const group of groups(input.rows)) {
    parts.push(text(8, y, group.title, 'font-weight="bold"'));
    y += 6;
    // Bars are scaled within a group and column: the comparison that means something is
    // between libraries on the same store and framework, not between a file store and memory.
    const maxima = cols.map((col) => Math.max(0, ...group.contestants.map((c) => valueOf(col, c) ?? 0)));
    for (const contestant of group.contestants) {
      y += ROW_HEIGHT;
      const label = contestant.valid ? contestant.label : `${contestant.label} (check FAILED)`;
      parts.push(text(20, y - 4, label, contestant.valid ? "" : 'fill="#c92a2a"'));
      cols.forEach((col, index) => parts.push(bar(col, contestant, maxima[index]!, LABEL_WIDTH + index * COLUMN_WIDTH, y)));
    }
    y += GROUP_GAP;
  }
  const width = LABEL_WIDTH + cols.length * COLUMN_WIDTH + 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="system-ui, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
${header(input, cols)}
${parts.join("\n")}
</svg>
`;
}

function valueOf(col: Column, contestant: Contestant): number | undefined {
  const row = contestant.byRoute.get(col.route);
  return row ? col.value(row) : undefined;
}

function bar(col: Column, contestant: Contestant, max: number, x: number, y: number): string {
  const value = valueOf(col, contestant);
  if (value === undefined) return text(x, y - 4, "–", 'fill="#868e96"');
  const width = max > 0 ? Math.max(1, (value / max) * BAR_ROOM) : 1;
  return `<rect x="${x}" y="${y - 14}" width="${width.toFixed(1)}" height="13" fill="${COLOURS[contestant.kind]}"/>${text(x + width + 4, y - 4, col.format(value))}`;
}

function header(input: ChartInput, cols: Column[]): string {
  const env = input.environment ?? {};
  const about = [input.date?.slice(0, 10), input.settings?.mode && `${input.settings.mode} run`, env.node && `Node ${env.node}`, env.cpu]
    .filter(Boolean)
    .join(" · ");
  const names: Record<Kind, string> = { bare: "framework alone", floor: "floor: one raw store call", sessionkit: "sessionkit", peer: "peer library" };
  const legend = KIND_ORDER.map((kind, i) => {
    const x = 8 + i * 180;
    return `<rect x="${x}" y="46" width="12" height="12" fill="${COLOURS[kind]}"/>${text(x + 16, 56, names[kind])}`;
  }).join("");
  const titles = cols.map((col, i) => text(LABEL_WIDTH + i * COLUMN_WIDTH, TOP - 16, col.title, 'font-weight="bold"')).join("");
  const note = "Bars are scaled within each group. Higher req/s is better; lower CPU per request is better.";
  return `${text(8, 20, "sessionkit benchmark", 'font-size="16" font-weight="bold"')}${text(8, 36, about, 'fill="#495057"')}
${legend}${text(8, 76, note, 'fill="#868e96"')}
${titles}`;
}

/** Reads `<dir>/latest.json`, writes `<dir>/chart.svg`; returns the path written. */
export function writeChart(resultsDir: string): string {
  const input = JSON.parse(readFileSync(join(resultsDir, "latest.json"), "utf8")) as ChartInput;
  const path = join(resultsDir, "chart.svg");
  writeFileSync(path, renderChart(input));
  return path;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(`written: ${writeChart(join(import.meta.dirname, "results"))}`);
}

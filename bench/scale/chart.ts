/**
 * One SVG per curve of every bench/results/scale/<part>.json, as bench/results/scale/<curve id>.svg:
 * a line per series over N (log axes where the curve asks), in bench/chart.ts's plain-SVG style
 * (no charting library, no scripts; renders on GitHub).
 *
 *   npx tsx bench/scale/chart.ts          # redraw from the JSON files present
 */
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Curve, PartResult } from "./lib.js";
import { readResult, RESULTS_DIR } from "./lib.js";

const WIDTH = 720;
const HEIGHT = 420;
const PLOT = { left: 80, right: 230, top: 56, bottom: 60 };
const COLOURS = ["#1c7ed6", "#f59f00", "#37b24d", "#e03131", "#7048e8", "#0c8599", "#d6336c", "#495057", "#a61e4d", "#5c940d", "#862e9c"];

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
const text = (x: number, y: number, content: string, attributes = "") => `<text x="${x}" y="${y}" ${attributes}>${escapeXml(content)}</text>`;

/** The smallest of 1, 2, 5 × a power of ten at or above `value`: a tick step a reader can add up. */
function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return ([1, 2, 5, 10].find((step) => step * power >= value) ?? 10) * power;
}

/** Maps values of one axis to pixels, linear or log10. */
function scale(values: number[], log: boolean, from: number, to: number): { at: (v: number) => number; ticks: number[] } {
  const usable = log ? values.filter((v) => v > 0) : values;
  let low = Math.min(...usable);
  let high = Math.max(...usable);
  const ticks: number[] = [];
  if (log) {
    [low, high] = [10 ** Math.floor(Math.log10(low)), 10 ** Math.ceil(Math.log10(high))];
    if (high === low) high = low * 10;
    for (let t = low; t <= high * 1.0001; t *= 10) ticks.push(t);
  } else {
    const step = niceCeiling((high - Math.min(0, low)) / 5);
    [low, high] = [Math.floor(Math.min(0, low) / step) * step, Math.ceil(high / step) * step || step];
    for (let t = low; t <= high + step / 2; t += step) ticks.push(Number(t.toPrecision(6)));
  }
  const f = (v: number) => (log ? Math.log10(Math.max(v, low)) : v);
  const at = (v: number) => from + ((f(v) - f(low)) / (f(high) - f(low))) * (to - from);
  return { at, ticks };
}

const short = (v: number) => Number(v.toPrecision(3)).toString();
const label = (v: number) => (Math.abs(v) >= 1e6 ? `${short(v / 1e6)}M` : Math.abs(v) >= 1e3 ? `${short(v / 1e3)}k` : short(v));

export function renderCurve(curve: Curve, part: PartResult): string {
  const points = curve.series.flatMap((s) => s.points);
  if (points.length === 0) return "";
  const x = scale(points.map((p) => p[0]), curve.logX ?? false, PLOT.left, WIDTH - PLOT.right);
  const y = scale(points.map((p) => p[1]), curve.logY ?? false, HEIGHT - PLOT.bottom, PLOT.top);
  const grid = [
    ...x.ticks.map((t) => `<line x1="${x.at(t)}" y1="${PLOT.top}" x2="${x.at(t)}" y2="${HEIGHT - PLOT.bottom}" stroke="#e9ecef"/>${text(x.at(t), HEIGHT - PLOT.bottom + 16, label(t), 'text-anchor="middle"')}`),
    ...y.ticks.map((t) => `<line x1="${PLOT.left}" y1="${y.at(t)}" x2="${WIDTH - PLOT.right}" y2="${y.at(t)}" stroke="#e9ecef"/>${text(PLOT.left - 6, y.at(t) + 4, label(t), 'text-anchor="end"')}`),
  ];
  const lines = curve.series.map((series, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const coords = series.points.map(([px, py]) => `${x.at(px).toFixed(1)},${y.at(py).toFixed(1)}`);
    const path = coords.length > 1 ? `<polyline points="${coords.join(" ")}" fill="none" stroke="${colour}" stroke-width="2"/>` : "";
    const dots = coords.map((c) => `<circle cx="${c.split(",")[0]}" cy="${c.split(",")[1]}" r="3.5" fill="${colour}"/>`).join("");
    const legendY = PLOT.top + 4 + i * 18;
    const legend = `<rect x="${WIDTH - PLOT.right + 14}" y="${legendY}" width="12" height="12" fill="${colour}"/>${text(WIDTH - PLOT.right + 32, legendY + 10, series.name)}`;
    return path + dots + legend;
  });
  const about = `Node ${part.env.node} · load average ${part.env.loadavg.join(" ")} · ${part.env.cpu}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
${text(12, 22, curve.title, 'font-size="15" font-weight="bold"')}${text(12, 40, about, 'fill="#868e96"')}
${grid.join("\n")}
<line x1="${PLOT.left}" y1="${HEIGHT - PLOT.bottom}" x2="${WIDTH - PLOT.right}" y2="${HEIGHT - PLOT.bottom}" stroke="#495057"/>
<line x1="${PLOT.left}" y1="${PLOT.top}" x2="${PLOT.left}" y2="${HEIGHT - PLOT.bottom}" stroke="#495057"/>
${text((PLOT.left + WIDTH - PLOT.right) / 2, HEIGHT - 18, `${curve.xLabel}${curve.logX ? " (log)" : ""}`, 'text-anchor="middle"')}
${text(16, (PLOT.top + HEIGHT - PLOT.bottom) / 2, `${curve.yLabel}${curve.logY ? " (log)" : ""}`, `text-anchor="middle" transform="rotate(-90 16 ${(PLOT.top + HEIGHT - PLOT.bottom) / 2})"`)}
${lines.join("\n")}
</svg>
`;
}

/** Draws every curve of every part result in `dir`; returns the files written. */
export function writeCharts(dir = RESULTS_DIR): string[] {
  const written: string[] = [];
  if (!existsSync(dir)) return written;
  for (const name of readdirSync(dir).filter((n) => n.endsWith(".json")).sort()) {
    const part = readResult(join(dir, name));
    for (const curve of part.curves ?? []) {
      const svg = renderCurve(curve, part);
      if (!svg) continue;
      const path = join(dir, `${curve.id}.svg`);
      writeFileSync(path, svg);
      written.push(path);
    }
  }
  return written;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  for (const path of writeCharts()) console.log(`written: ${path}`);
}

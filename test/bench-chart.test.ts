import { expect, it } from "vitest";
import type { ChartRow } from "../bench/chart.js";
import { renderChart } from "../bench/chart.js";

const row = (id: string, library: string, store: string, route: string, requestsPerSecond: number, extra: Partial<ChartRow> = {}): ChartRow => ({
  id, library, store, framework: "express 5", route, requestsPerSecond, valid: true, ...extra,
});

const bars = (svg: string) => [...svg.matchAll(/<rect x="(\d+)" y="\d+" width="([\d.]+)" height="13" fill="(#\w+)"\/><text[^>]*>([^<]*)</g)]
  .map(([, x, width, fill, label]) => ({ x: Number(x), width: Number(width), fill, label }));

it("draws req/s per route, bare framework first in each store's group, bars scaled within the group", () => {
  const svg = renderChart({
    rows: [
      row("bare-express", "bare express 5", "none", "/read", 10_000),
      row("sk-redis", "sessionkit", "redis", "/read", 8_000),
      row("es-redis", "express-session & <connect-redis>", "redis", "/read", 4_000),
    ],
  });
  expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  expect(svg).toContain(">express 5 · redis<");
  expect(svg).not.toContain("no sessions"); // the bare row joins the store's group instead
  expect(svg).toContain("express-session &#38; &#60;connect-redis&#62;"); // labels are escaped
  expect(svg).not.toContain("CPU µs/request"); // results without CPU fields: no CPU columns
  expect(bars(svg)).toEqual([
    { x: 290, width: 120, fill: "#adb5bd", label: "10,000" },
    { x: 290, width: 96, fill: "#1c7ed6", label: "8,000" },
    { x: 290, width: 48, fill: "#f59f00", label: "4,000" },
  ]);
});

it("adds CPU per request columns when the results carry them, and a dash where a route is missing", () => {
  const svg = renderChart({
    rows: [
      row("floor-redis-express", "floor: one redis round trip", "redis", "/read", 9_000, { kind: "floor", cpuMicrosPerRequest: 50 }),
      row("sk-redis", "sessionkit", "redis", "/read", 8_000, { kind: "sessionkit", cpuMicrosPerRequest: 62.5 }),
      row("sk-redis", "sessionkit", "redis", "/write", 7_000, { kind: "sessionkit", cpuMicrosPerRequest: 125, valid: false }),
    ],
  });
  expect(svg).toContain(">CPU µs/request /read<");
  expect(svg).toContain("sessionkit (check FAILED)");
  expect(bars(svg).filter((bar) => bar.x === 290 + 2 * 190)).toEqual([
    { x: 670, width: 96, fill: "#63e6be", label: "50.0" },
    { x: 670, width: 120, fill: "#1c7ed6", label: "62.5" },
  ]);
  expect(svg).toMatch(/<text x="480" y="\d+" fill="#868e96">–<\/text>/); // the floor has no /write row
});

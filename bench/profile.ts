/**
 * Reads the .cpuprofile files `node --cpu-prof` wrote and lists the functions with the most
 * self time (time on the CPU in the function itself, not in what it calls), overall and in
 * sessionkit's own code (src/, or dist/ as the benchmark runs it).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { REPO_ROOT } from "./lib.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

interface Hot {
  name: string;
  selfMs: number;
}

function selfTimes(profile: CpuProfile): { hot: Hot[]; totalMs: number } {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = (profile.timeDeltas[i] ?? 0) / 1000;
    total += delta;
    const frame = byNode.get(id)!.callFrame;
    const file = frame.url ? relative(REPO_ROOT, frame.url.replace(/^file:\/\//, "")) : "(native)";
    const name = `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + delta);
  });
  const hot = [...byFunction].map(([name, selfMs]) => ({ name, selfMs })).sort((a, b) => b.selfMs - a.selfMs);
  return { hot, totalMs: total };
}

export function summarizeProfile(directory: string, top = 25): string {
  const files = readdirSync(directory).filter((name) => name.endsWith(".cpuprofile"));
  const lines: string[] = [];
  for (const file of files) {
    const { hot, totalMs } = selfTimes(JSON.parse(readFileSync(join(directory, file), "utf8")) as CpuProfile);
    const row = (h: Hot) => `${h.selfMs.toFixed(1).padStart(9)} ms ${((h.selfMs / totalMs) * 100).toFixed(1).padStart(5)}%  ${h.name}`;
    lines.push(`profile ${join(relative(REPO_ROOT, directory), file)}: ${totalMs.toFixed(0)} ms sampled`, "top self time, all code:");
    lines.push(...hot.slice(0, top).map(row));
    const ours = hot.filter((h) => h.name.includes(" src/") || h.name.includes(" dist/"));
    const oursMs = ours.reduce((sum, h) => sum + h.selfMs, 0);
    lines.push(`sessionkit (src/ or dist/) in total: ${oursMs.toFixed(1)} ms (${((oursMs / totalMs) * 100).toFixed(1)}%); its hottest functions:`);
    lines.push(...ours.slice(0, 15).map(row));
  }
  return lines.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(summarizeProfile(process.argv[2] ?? "."));
}

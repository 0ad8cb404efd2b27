/**
 * The adapter × guarantee matrix of docs/adapters.md, rendered from the case list (cases.ts), the
 * in-process targets (targets.ts) and, for the framework apps too costly to build in this suite,
 * the test of each app's own suite that proves a guarantee (checked to still exist by name).
 */
import { readFile } from "node:fs/promises";
import type { GuaranteeCase } from "./cases.js";
import { isFreshInHandler } from "./cases.js";
import type { Target } from "./targets.js";

/** A test of a built app's suite: `title` is the literal first argument of its it(...). */
export interface Proof {
  file: string;
  title: string;
  /** What of the guarantee the test checks, when it is not all of it. */
  only?: string;
  /** The app's documented setting the guarantee needs (a framework server that trusts a proxy only when told). */
  config?: string;
}

export interface BuiltApp {
  name: string;
  /** By case id: the proving test, or why there is none. */
  cells: Record<string, Proof | string>;
}

export const MATRIX_START = "<!-- guarantees:start -->";
export const MATRIX_END = "<!-- guarantees:end -->";

const next = "test/next-adapter.test.ts";
const rrApp = "test/react-router-adapter.test.ts";
const kit = "test/sveltekit-adapter.test.ts";
const nuxt = "test/nuxt-app.test.ts";

const nextSignIn = { file: next, title: "signs in through a Server Action, and a Server Component reads the session" };
const rrAction = { file: rrApp, title: "an action writes: sign-in sets the manager's cookie, not storable by shared caches" };
const kitWrite = { file: kit, title: "stores a form action's write, and the next request's load reads it" };
const kitProxied = { file: kit, title: "HttpOnly, SameSite=Lax, Path=/ over plain http, and Secure once the proxy says https" };
const nuxtApp = { file: nuxt, title: "signs in, counts per session, and signs out, with the cookie rules of every adapter" };
const freshInHandler = (framework: string) => `skipped: ${isFreshInHandler(framework)}`;
const hostPrefix = "cookie.secure: true with the name __Host-sid: Secure, Path=/, no Domain, and it loads back";
const superseded = "a sign-in superseded by a sign-out meanwhile sends no cookie: the user stays signed out";

export const builtApps: BuiltApp[] = [
  {
    name: "Next.js (next build + next start)",
    cells: {
      flags: nextSignIn,
      "secure-auto": { file: next, title: "Secure over https: a request forwarded as https (x-forwarded-proto) gets a Secure cookie" },
      "host-prefix": { file: next, title: hostPrefix },
      "cache-control": { file: next, title: "withSession: a GET Route Handler's response that carries the cookie is private, no-store; one without keeps its own" },
      ambiguous: { file: next, title: "two different sid cookies load neither: a fresh session and an ambiguous-cookie event" },
      superseded: { file: next, title: superseded },
      "store-failure": { file: next, title: "a store failure fails the Server Action and the Route Handler with a 500, and sets no cookie" },
      "revoke-user": { file: next, title: "signIn, userId, handle and the per-user calls work from a Server Action and Route Handlers" },
      api: { file: next, title: "the NextSession is the whole Session: every member works from a Route Handler" },
      "require-fresh": freshInHandler("Next.js"),
    },
  },
  {
    name: "React Router (build + react-router-serve)",
    cells: {
      flags: rrAction,
      "secure-auto": {
        file: rrApp,
        title: "Secure over https behind a proxy: a custom Express server with trust proxy makes getSession(request) set Secure",
        config: 'a custom server (@react-router/express) with app.set("trust proxy", 1); react-router-serve trusts no proxy header',
      },
      "host-prefix": { file: rrApp, title: hostPrefix },
      "cache-control": rrAction,
      ambiguous: { file: rrApp, title: "two different sid cookies load neither: a fresh session and an ambiguous-cookie event" },
      superseded: { file: rrApp, title: superseded },
      "store-failure": { file: rrApp, title: "a store failure fails the action through React Router's error path (500), with no cookie" },
      "revoke-user": { file: rrApp, title: "signIn, userId, handle, listSessions and revokeUser work from loaders and actions" },
      api: { file: rrApp, title: "the React Router session is the whole Session: every member works from an action" },
      "require-fresh": freshInHandler("React Router"),
    },
  },
  {
    name: "SvelteKit 3 (adapter-node build)",
    cells: {
      flags: kitProxied,
      "secure-auto": { ...kitProxied, config: "adapter-node's PROTOCOL_HEADER=x-forwarded-proto" },
      "host-prefix": { file: kit, title: hostPrefix },
      "cache-control": kitWrite,
      ambiguous: { file: kit, title: "two different sid cookies load neither: a fresh session and an ambiguous-cookie event" },
      superseded: { file: kit, title: superseded },
      "store-failure": { file: kit, title: "answers a failed store write through SvelteKit's error path (handleError, 500), without a cookie" },
      "revoke-user": { file: kit, title: "signIn → listSessions → revokeUser ends every session of the user" },
      api: { file: kit, title: "locals.session is the whole Session: every member works from an endpoint" },
      "require-fresh": freshInHandler("SvelteKit"),
    },
  },
  {
    name: "Nuxt 4 (nuxi build, h3 1.15)",
    cells: {
      flags: nuxtApp,
      "secure-auto": { file: nuxt, title: "Secure over https: a request forwarded as https (x-forwarded-proto, h3 1's rule) gets a Secure cookie" },
      "host-prefix": { file: nuxt, title: hostPrefix },
      "cache-control": { file: nuxt, title: "no-store on every response with the cookie; the app's shareable Cache-Control becomes private, no-store" },
      ambiguous: { file: nuxt, title: "two different session cookies load neither, each with an ambiguous-cookie event, and a write starts a new session" },
      superseded: { file: nuxt, title: superseded },
      "store-failure": { file: nuxt, title: "a store failure answers 500 with no cookie, with and without a session, and the session outlives it" },
      "revoke-user": { file: nuxt, title: "signIn → listSessions → revokeUser ends every session of the user" },
      api: { file: nuxt, title: "useSession(event) is the whole Session: every member works from a server route" },
      "require-fresh": freshInHandler("h3 (Nuxt)"),
    },
  },
];

/** Every proof whose test is gone from its file, and every case a built app has no cell for. */
export async function missingProofs(apps: BuiltApp[], caseIds: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const app of apps) {
    for (const id of caseIds) {
      const cell = app.cells[id];
      if (cell === undefined) missing.push(`${app.name}: no cell for "${id}"`);
      else if (typeof cell !== "string" && !(await testExists(cell))) missing.push(`${app.name} › ${id}: ${cell.file} has no it(${JSON.stringify(cell.title)}`);
    }
  }
  return missing;
}

async function testExists(proof: Proof): Promise<boolean> {
  const source = await readFile(new URL(`../../${proof.file}`, import.meta.url), "utf8");
  return source.includes(`it(${JSON.stringify(proof.title)}`);
}

/** A table cell's text: a "|" would end the cell. */
const cellText = (text: string) => text.replaceAll("|", "\\|");

function proofCell(cell: Proof | string): string {
  if (typeof cell === "string") return `— ${cell}`;
  const qualifier = cell.only ? ` partly (${cell.only})` : cell.config ? ` with ${cell.config}` : "";
  return `✓${qualifier}: ${cell.file} › “${cell.title}”`;
}

const LEGEND = [
  "Generated by test/adapters/guarantees.test.ts from its case and target lists: `UPDATE_MATRIX=1 npx vitest run test/adapters/guarantees.test.ts` rewrites it.",
  "✓ in the first rows: the case passes against that adapter on a real server on 127.0.0.1. For the built framework apps, a cell names the test of the app's own suite that proves the guarantee, and — says why none does.",
];

/** The legend and the table that go between the markers. */
export function renderMatrix(caseList: GuaranteeCase[], targetList: Target[], apps: BuiltApp[]): string {
  const row = (name: string, cells: string[]) => `| ${[name, ...cells].map(cellText).join(" | ")} |`;
  const rows = [
    row("Adapter", caseList.map((c) => c.title)),
    `|${" --- |".repeat(caseList.length + 1)}`,
    ...targetList.map((target) => row(target.name, caseList.map((c) => (target.skip?.[c.id] ? `— skipped: ${target.skip[c.id]}` : "✓")))),
    ...apps.map((app) => row(app.name, caseList.map((c) => proofCell(app.cells[c.id] ?? "no cell")))),
  ];
  return [...LEGEND.flatMap((line) => [line, ""]), ...rows].join("\n");
}

/** `doc` with the text between the markers replaced by `table`; throws when the markers are missing. */
export function replaceMatrix(doc: string, table: string): string {
  const start = doc.indexOf(MATRIX_START);
  const end = doc.indexOf(MATRIX_END);
  if (start === -1 || end < start) throw new Error(`docs/adapters.md needs the markers ${MATRIX_START} and ${MATRIX_END}`);
  return `${doc.slice(0, start + MATRIX_START.length)}\n${table}\n${doc.slice(end)}`;
}

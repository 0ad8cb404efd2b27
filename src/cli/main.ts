#!/usr/bin/env node
/**
 * `sessionkit` — the operator CLI: count, gc, list and revoke sessions, print or apply the SQL
 * schema, against any store the library can open. See docs/cli.md.
 */
import { parseArgs } from "node:util";
import { SessionManager } from "../core/manager.js";
import type { SessionStore } from "../core/store.js";
import { COMMANDS } from "./commands.js";
import { scrubberFor } from "../core/redact.js";
import { describeError, UsageError } from "./errors.js";
import { openStore, parseStoreSpec } from "./store.js";

const USAGE = `usage: sessionkit <command> --store <store> [options]

commands:
  count                       number of live sessions
  gc                          delete expired sessions now (progress on stderr)
  list    --user U            the live sessions of user U: handle, device, IP, signed in, last seen
  revoke  --user U            end every session of U; --except H keeps one; --handle H ends only H
  schema                      print the SQL store's DDL; --apply runs it (idempotent)

--store (or SESSION_STORE): redis://host:6379, sentinel://host:26379[,host:port…]/mastername,
  postgres://user@host/db, mysql://user@host/db, beego-style strings ("host:6379",
  "host=… dbname=…", "user:pw@tcp(host:3306)/db"), or a directory
options: --table T (SQL)  --prefix P (redis)  --json  --debug (stack traces)  --help`;

const OPTIONS = {
  store: { type: "string" },
  table: { type: "string" },
  prefix: { type: "string" },
  user: { type: "string" },
  handle: { type: "string" },
  except: { type: "string" },
  apply: { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  debug: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

async function main(argv: string[]): Promise<number> {
  let values: Values | undefined;
  try {
    const parsed = parseArgs({ args: joinValues(argv), options: OPTIONS, allowPositionals: true });
    values = parsed.values;
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    await run(parsed.positionals, values);
    return 0;
  } catch (error) {
    // parseArgs' own errors (unknown option, missing value) are usage errors too.
    const usage = error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith("ERR_PARSE_ARGS");
    // A driver's own message or stack may quote the store string: its password is masked there too.
    const scrub = scrubberFor(values?.store ?? storeArgument(argv) ?? process.env.SESSION_STORE ?? "");
    process.stderr.write(scrub(`sessionkit: ${describeError(error)}${usage ? " (see sessionkit --help)" : ""}\n`));
    if (values?.debug || argv.includes("--debug")) process.stderr.write(scrub(`${stackWithCauses(error)}\n`));
    return usage ? 2 : 1;
  }
}

/**
 * `--handle -x1` → `--handle=-x1`: a handle is base64url and may start with "-", which parseArgs
 * would otherwise refuse as ambiguous. Every string option takes a value, so the next word is it.
 */
function joinValues(argv: string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!.startsWith("--") ? argv[i]!.slice(2) : "";
    const takesValue = Object.hasOwn(OPTIONS, name) && OPTIONS[name as keyof typeof OPTIONS].type === "string";
    if (takesValue && i + 1 < argv.length) joined.push(`--${name}=${argv[++i]}`);
    else joined.push(argv[i]!);
  }
  return joined;
}

async function run(positionals: string[], values: Values): Promise<void> {
  const [name, ...extra] = positionals;
  if (name === undefined) throw new UsageError("no command given");
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(", ")}`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const storeValue = values.store ?? (process.env.SESSION_STORE || undefined);
  if (storeValue === undefined) throw new UsageError("no store: give --store or set SESSION_STORE");
  const spec = parseStoreSpec(storeValue);
  const store = await openStore(spec, { table: values.table, prefix: values.prefix });
  // No gc timer, no time limit per call: a gc or count of a large store may take minutes.
  const manager = new SessionManager({ store, gcInterval: 0, storeTimeout: 0 });
  try {
    const output = await command({
      manager,
      store,
      kind: spec.kind,
      json: values.json,
      user: values.user,
      handle: values.handle,
      except: values.except,
      apply: values.apply,
      progress: (line) => process.stderr.write(`${line}\n`),
    });
    process.stdout.write(`${output}\n`);
  } finally {
    await closeQuietly(manager, store);
  }
}

async function closeQuietly(manager: SessionManager, store: SessionStore): Promise<void> {
  await manager.close().catch(() => {});
  await Promise.resolve(store.close?.()).catch(() => {});
}

/** The --store value when parseArgs failed before giving it. */
function storeArgument(argv: string[]): string | undefined {
  const at = argv.findIndex((arg) => arg === "--store" || arg.startsWith("--store="));
  if (at < 0) return undefined;
  return argv[at] === "--store" ? argv[at + 1] : argv[at]!.slice("--store=".length);
}

function stackWithCauses(error: unknown): string {
  const lines: string[] = [];
  for (let current = error; current !== undefined; current = current instanceof Error ? current.cause : undefined) {
    lines.push(current instanceof Error ? (current.stack ?? String(current)) : String(current));
  }
  return lines.join("\ncaused by: ");
}

process.exitCode = await main(process.argv.slice(2));

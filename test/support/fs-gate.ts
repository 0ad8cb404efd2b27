/**
 * Holds one node:fs call on a barrier, for forced interleavings inside FileStore's lock protocol
 * (between a breaker's look at a lock and its rename; between a mkdir and its chmod), which no wrapper around the store's own
 * methods can reach. Import this module before the store: the store promisifies `fs.rename`,
 * `fs.unlink`, `fs.utimes` and `fs.chmod` when it loads, and then holds these wrappers, which pass every call through until a
 * gate is armed.
 */
import { createRequire, syncBuiltinESMExports } from "node:module";

type Callback = (error: NodeJS.ErrnoException | null) => void;
type PathCall = (path: string, ...rest: unknown[]) => void;
type GatedName = "rename" | "unlink" | "utimes" | "chmod";

export interface Gate {
  /** Resolves when a matching call arrived and is being held. */
  reached: Promise<void>;
  /** Lets the held call go on. */
  release(): void;
  /** Resolves when the held call has finished (its callback ran). */
  done: Promise<void>;
}

interface Armed {
  matches: (path: string, ...rest: unknown[]) => boolean;
  arrive: () => void;
  released: Promise<void>;
  finish: () => void;
}

const fs = createRequire(import.meta.url)("node:fs") as Record<GatedName, PathCall>;
const armed = new Map<GatedName, Armed>();

for (const name of ["rename", "unlink", "utimes", "chmod"] as const) {
  const original = fs[name];
  fs[name] = function gated(path: string, ...rest: unknown[]): void {
    const gate = armed.get(name);
    if (!gate?.matches(path, ...rest)) return original(path, ...rest);
    armed.delete(name); // one call per gate
    const callback = rest.pop() as Callback;
    gate.arrive();
    void gate.released.then(() =>
      original(path, ...rest, (error: NodeJS.ErrnoException | null) => {
        gate.finish();
        callback(error);
      }),
    );
  };
}
syncBuiltinESMExports();

/** Holds the next `fs.<name>` call whose arguments (as fs received them, callback last) `matches` accepts. */
export function gateNext(name: GatedName, matches: (path: string, ...rest: unknown[]) => boolean): Gate {
  let arrive!: () => void;
  let release!: () => void;
  let finish!: () => void;
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const done = new Promise<void>((resolve) => (finish = resolve));
  armed.set(name, { matches, arrive, released, finish });
  return { reached, release, done };
}

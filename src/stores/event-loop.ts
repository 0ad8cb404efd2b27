/** Lets queued I/O callbacks and timers run before a long store job (a gc pass) goes on. Internal. */
export function yieldToEventLoop(): Promise<void> {
  // setImmediate runs after pending I/O; runtimes without it (Workers, Deno) get a timer.
  return new Promise((resolve) => (typeof setImmediate === "function" ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

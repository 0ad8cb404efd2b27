/**
 * `process.emitWarning` where the runtime has it (Node, Bun, Deno, Workers with nodejs_compat);
 * `console.warn` where it does not (Workers without nodejs_compat), so a warning never throws.
 */
export function emitWarning(message: string, code?: string): void {
  const process = globalThis.process as NodeJS.Process | undefined;
  if (typeof process?.emitWarning !== "function") console.warn(code ? `${code}: ${message}` : message);
  else if (code === undefined) process.emitWarning(message, "SessionkitWarning");
  else process.emitWarning(message, { type: "SessionkitWarning", code });
}

/**
 * Once-per-process warnings for misconfigurations that cannot be refused outright (a running
 * app must keep working), in Node's own channel: `process.on("warning")`, `--no-warnings`.
 */
const warned = new Set<string>();

/** Emits `message` the first time `code` is seen in this process; later calls do nothing. */
export function warnOnce(code: string, message: string): void {
  if (warned.has(code)) return;
  warned.add(code);
  emitWarning(message, code);
}

/**
 * One warning, the first time a session cookie goes out without Secure; the manager calls it in
 * production only (NODE_ENV=production when it was made): behind a TLS-terminating proxy that the
 * app does not trust, `secure: "auto"` sees plain HTTP.
 */
export function warnInsecureCookie(name: string): void {
  if (warned.has(INSECURE_COOKIE)) return;
  warnOnce(
    INSECURE_COOKIE,
    `sessionkit: the session cookie "${name}" went out without Secure while NODE_ENV=production, so a browser would send it over plain HTTP. ` +
      'Behind a TLS-terminating proxy, trust the proxy so the request counts as HTTPS (Express: app.set("trust proxy", 1); Koa: app.proxy = true; ' +
      "Fastify: trustProxy: true), or set cookie.secure: true.",
  );
}
const INSECURE_COOKIE = "SESSIONKIT_INSECURE_COOKIE";

/**
 * Every error sessionkit raises at run time is a SessionError with a stable `code`.
 * Misuse of the API at construction (a bad option) is a plain TypeError instead,
 * so that configuration bugs and runtime conditions are never confused.
 */
export class SessionError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * The store failed or did not answer within `storeTimeout`. The cause is the driver's error.
 * `outcome` is "unknown" when a write failed after it was sent (a timeout, a lost connection,
 * a replica that did not confirm): it may or may not have been applied, so never report it as
 * undone. It is undefined when nothing was written.
 */
export class SessionStoreError extends SessionError {
  readonly outcome: "unknown" | undefined;

  constructor(message = "the session store failed", options?: { cause?: unknown; outcome?: "unknown" }) {
    super("ERR_SESSION_STORE", message, options);
    this.outcome = options?.outcome;
  }
}

/**
 * So many other requests wrote the same session at once that this commit gave up retrying.
 * Nothing of it was stored; the client may retry the request.
 */
export class SessionConflictError extends SessionError {
  readonly attempts: number;

  constructor(attempts: number) {
    super("ERR_SESSION_CONFLICT", `gave up after ${attempts} conflicting writes to one session; nothing was stored`);
    this.attempts = attempts;
  }
}

/** signIn would exceed `maxSessionsPerUser` and `sessionLimit` is "reject". */
export class SessionLimitError extends SessionError {
  readonly limit: number;

  constructor(limit: number) {
    super("ERR_SESSION_LIMIT", `this user already has ${limit} live sessions, the most maxSessionsPerUser allows`);
    this.limit = limit;
  }
}

/** A session value cannot be encoded (function, symbol, cycle, BigInt, Map, …). */
export class SessionEncodeError extends SessionError {
  readonly key: string;

  constructor(key: string, reason: string, options?: { cause?: unknown }) {
    super("ERR_SESSION_ENCODE", `session value "${key}" cannot be encoded: ${reason}`, options);
    this.key = key;
  }
}

/** The encoded session is larger than the limit (`maxSize`, or 4096 bytes for a cookie). */
export class SessionTooLargeError extends SessionError {
  readonly size: number;
  readonly limit: number;

  constructor(size: number, limit: number, what = "encoded session") {
    super("ERR_SESSION_TOO_LARGE", `${what} is ${size} bytes, over the limit of ${limit} bytes`);
    this.size = size;
    this.limit = limit;
  }
}

/** The store cannot do this by design (e.g. counting sessions that live in cookies). */
export class SessionUnsupportedError extends SessionError {
  constructor(message: string) {
    super("ERR_SESSION_UNSUPPORTED", message);
  }
}

/** The response headers were already sent, so the session cookie can no longer be set. */
export class SessionHeadersSentError extends SessionError {
  constructor() {
    super(
      "ERR_SESSION_HEADERS_SENT",
      "cannot commit the session: response headers were already sent; call release() before writing the body",
    );
  }
}

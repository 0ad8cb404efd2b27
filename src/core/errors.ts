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

/** The store failed or did not answer within `storeTimeout`. The cause is the driver's error. */
export class SessionStoreError extends SessionError {
  constructor(message = "the session store failed", options?: { cause?: unknown }) {
    super("ERR_SESSION_STORE", message, options);
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

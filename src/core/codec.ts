import { SessionEncodeError } from "./errors.js";

/** Turns session data into the string a store keeps, and back. Replace it with the `codec` option. */
export interface SessionCodec {
  encode(data: Record<string, unknown>): string;
  /** Must return an object with no prototype tricks: keys like "__proto__" stay plain data. */
  decode(text: string): Record<string, unknown>;
}

// A Date is written as {"$date": epochMs}; only an object with exactly that one key is revived.
const DATE_TAG = "$date";

function rejectUnencodable(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Date) return { [DATE_TAG]: raw.getTime() };
  switch (typeof value) {
    case "function":
    case "symbol":
      throw new TypeError(`a ${typeof value} is not data`);
    case "bigint":
      throw new TypeError("a BigInt has no JSON form");
    case "object":
      if (value instanceof Map || value instanceof Set || value instanceof WeakMap || value instanceof WeakSet) {
        throw new TypeError(`a ${value.constructor.name} would be written as {} and lose its entries`);
      }
  }
  return value;
}

function revive(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const tagged = (value as Record<string, unknown>)[DATE_TAG];
    if (typeof tagged === "number" && Object.keys(value).length === 1) return new Date(tagged);
  }
  return value;
}

// A string JSON writes as is between quotes: no quote, backslash, control character or surrogate.
// eslint-disable-next-line no-control-regex -- the control characters are what JSON escapes
const PLAIN_STRING = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** JSON.stringify of a string, without entering the JSON serializer when nothing needs escaping. */
function quote(text: string): string {
  return PLAIN_STRING.test(text) ? `"${text}"` : JSON.stringify(text);
}

// Apps use a handful of keys: their quoted forms are kept (bounded, since keys may be made per user).
const QUOTED_KEYS = new Map<string, string>();
const QUOTED_KEYS_MAX = 256;

function quoteKey(key: string): string {
  let quoted = QUOTED_KEYS.get(key);
  if (quoted === undefined) {
    quoted = quote(key);
    if (QUOTED_KEYS.size < QUOTED_KEYS_MAX) QUOTED_KEYS.set(key, quoted);
  }
  return quoted;
}

function encodeValue(key: string, value: unknown): string {
  // Strings, finite numbers and booleans, the common case, have their JSON form without the
  // serializer (its entry costs more than the work for a short value) or a replacer call.
  switch (typeof value) {
    case "string":
      return quote(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (Number.isFinite(value)) return String(value); // JSON's number form is ToString's
  }
  try {
    return JSON.stringify(value, rejectUnencodable);
  } catch (error) {
    const reason = error instanceof Error && /circular/i.test(error.message) ? "it contains a cycle" : (error as Error).message;
    throw new SessionEncodeError(key, reason, { cause: error });
  }
}

function appendEntry(out: string, key: string, value: unknown): string {
  if (value === undefined) return out;
  return (out.length > 1 ? out + "," : out) + quoteKey(key) + ":" + encodeValue(key, value);
}

/**
 * What `jsonCodec.encode(Object.fromEntries(data))` gives, read straight from the session's Map:
 * the object in between costs as much as the encoding itself.
 */
export function encodeJsonMap(data: ReadonlyMap<string, unknown>): string {
  let out = "{";
  for (const [key, value] of data) out = appendEntry(out, key, value);
  return out + "}";
}

/**
 * JSON plus Date. Each top-level value is checked on its own so an error names the key.
 * JSON.parse defines "__proto__" as an own data property, so decoding cannot pollute prototypes.
 */
export const jsonCodec: SessionCodec = {
  encode(data) {
    let out = "{";
    for (const key of Object.keys(data)) out = appendEntry(out, key, data[key]);
    return out + "}";
  },
  decode(text) {
    // A reviver runs for every value and triples the parse cost: use it only when a Date is present.
    const parsed: unknown = text.includes(`"${DATE_TAG}"`) ? JSON.parse(text, revive) : JSON.parse(text);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new TypeError("session data is not a JSON object");
    }
    return parsed as Record<string, unknown>;
  },
};

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

function encodeValue(key: string, value: unknown): string {
  // Strings, finite numbers and booleans need no replacer: the common case, without a call per value.
  if (typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))) {
    return JSON.stringify(value);
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
  return (out.length > 1 ? out + "," : out) + JSON.stringify(key) + ":" + encodeValue(key, value);
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

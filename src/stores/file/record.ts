/**
 * FileStore's on-disk record: one file per session,
 * `SKF1 <version> <expiresAt> <r|j> <byteLength>[ <owner>]\n<body>`.
 * The header is latin1 and short enough to be read alone (count and gc read only headers); the
 * body is the encoded session, UTF-8 ("r") or, when it holds lone UTF-16 surrogates that UTF-8
 * cannot carry, a JSON string ("j"). The byte length tells a whole file from a torn one.
 */
import type { StoredSession } from "../../core/store.js";
import { readRegularFile } from "./fs.js";

/** The store contract's key alphabet (keys and owners): anything else is a caller bug. */
export const KEY_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const MAGIC = "SKF1";
const HEADER_PROBE_BYTES = 128;

export interface Header {
  version: number;
  expiresAt: number;
  encoding: "r" | "j";
  length: number;
  bodyStart: number;
  owner: string | undefined;
}

export function encodeRecord(record: StoredSession): Buffer {
  // Lone UTF-16 surrogates do not survive UTF-8; such data is stored as a JSON string instead.
  const wellFormed = (record.data as string & { isWellFormed?: () => boolean }).isWellFormed?.() ?? true;
  const body = Buffer.from(wellFormed ? record.data : JSON.stringify(record.data), "utf8");
  const owner = record.owner === undefined ? "" : ` ${record.owner}`;
  const header = `${MAGIC} ${record.version} ${record.expiresAt} ${wellFormed ? "r" : "j"} ${body.length}${owner}\n`;
  return Buffer.concat([Buffer.from(header, "latin1"), body]);
}

function parseHeader(bytes: Buffer): Header | null {
  const end = bytes.indexOf(10);
  if (end < 0 || end > HEADER_PROBE_BYTES) return null;
  const parts = bytes.toString("latin1", 0, end).split(" ");
  // A sixth field is the owner (absent for an anonymous session, and in files of sessionkit 0.1).
  if ((parts.length !== 5 && parts.length !== 6) || parts[0] !== MAGIC) return null;
  const owner = parts[5];
  if (owner !== undefined && !KEY_PATTERN.test(owner)) return null;
  const [version, expiresAt, length] = [Number(parts[1]), Number(parts[2]), Number(parts[4])];
  const encoding = parts[3];
  if (!Number.isSafeInteger(version) || version < 1 || !Number.isFinite(expiresAt)) return null;
  if (!Number.isSafeInteger(length) || length < 0 || (encoding !== "r" && encoding !== "j")) return null;
  return { version, expiresAt, encoding, length, bodyStart: end + 1, owner };
}

/** The record if the bytes are a whole, well-formed, unexpired file; corrupt is "not found". */
export function liveRecord(bytes: Buffer, now: number): StoredSession | null {
  const header = parseHeader(bytes);
  if (!header || header.expiresAt <= now || bytes.length !== header.bodyStart + header.length) return null;
  const body = bytes.toString("utf8", header.bodyStart);
  const data = header.encoding === "r" ? body : jsonString(body);
  if (data === null) return null;
  const record: StoredSession = { data, expiresAt: header.expiresAt, version: header.version };
  if (header.owner !== undefined) record.owner = header.owner;
  return record;
}

function jsonString(body: string): string | null {
  try {
    const data: unknown = JSON.parse(body);
    return typeof data === "string" ? data : null;
  } catch {
    return null;
  }
}

/** The header of the file at `path`, or null when it is missing, not a regular file or no record. */
export async function readHeader(path: string): Promise<Header | null> {
  const probe = await readRegularFile(path, HEADER_PROBE_BYTES + 1);
  return probe ? parseHeader(probe) : null;
}

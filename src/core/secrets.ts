/**
 * The rule every secret of sessionkit follows (the manager's `secrets`, CookieStore's `secrets`):
 * at least 32 characters (fastify/session, OWASP: a shorter HMAC key is guessable offline) and at
 * least 72 bits of estimated entropy, so a placeholder of the right length (32 spaces, "x" × 40,
 * "abcd" × 8) is refused, and so are sequences and repeated words ("0123456789abcdef" twice,
 * "passwordpassword…"). The estimate (below) catches little variety, not a guessable phrase, so
 * generate secrets from a CSPRNG (`openssl rand -base64 32`); a random 32-character hex string
 * scores about 90+.
 */
export const MIN_SECRET_LENGTH = 32;
export const MIN_SECRET_BITS = 72;

/** `[newest, ...older]`, copied; otherwise a TypeError that starts with `label` (e.g. `option "secrets"`). */
export function checkSecretList(secrets: unknown, label: string): readonly string[] {
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new TypeError(`${label} must be a non-empty array of strings: [newest, ...older]`);
  }
  for (const secret of secrets as unknown[]) {
    if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH) {
      throw new TypeError(`${label}: every secret must be a string of at least ${MIN_SECRET_LENGTH} characters`);
    }
    const bits = estimatedBits(secret);
    if (bits < MIN_SECRET_BITS) {
      throw new TypeError(
        `${label}: a secret has too little variety (about ${Math.floor(bits)} bits, at least ${MIN_SECRET_BITS} needed); ` +
          "generate one from a CSPRNG, e.g. `openssl rand -base64 32`",
      );
    }
  }
  return [...(secrets as string[])];
}

/**
 * Length × Shannon entropy of the character frequencies (sum over characters of -n·log2(n / length)),
 * counted over the characters that are not predictable from the ones before them:
 * - a character that continues a run of step -1, 0 or +1 ("cdef…", "6789", "zzz") after its
 *   first two characters adds nothing, and
 * - a stretch of 4 or more characters that already appeared earlier in the secret ("password"
 *   again, a hex string pasted twice) adds nothing.
 * A small, documented rule against sequences and repeated words, not a password-strength meter.
 */
export function estimatedBits(secret: string): number {
  const chars = [...secret];
  const counts = new Map<string, number>();
  let length = 0;
  for (let i = 0; i < chars.length; ) {
    const repeat = earlierRepeat(chars, i);
    if (repeat >= MIN_REPEAT) {
      i += repeat;
      continue;
    }
    if (!continuesRun(chars, i)) {
      counts.set(chars[i]!, (counts.get(chars[i]!) ?? 0) + 1);
      length++;
    }
    i++;
  }
  let bits = 0;
  for (const count of counts.values()) bits -= count * Math.log2(count / length);
  return bits;
}

const MIN_REPEAT = 4;

function continuesRun(chars: string[], i: number): boolean {
  if (i < 2) return false;
  const step = chars[i]!.codePointAt(0)! - chars[i - 1]!.codePointAt(0)!;
  return Math.abs(step) <= 1 && step === chars[i - 1]!.codePointAt(0)! - chars[i - 2]!.codePointAt(0)!;
}

/** The length of the longest match of chars[i…] with a stretch that starts before i. */
function earlierRepeat(chars: string[], i: number): number {
  let longest = 0;
  for (let start = 0; start < i; start++) {
    let n = 0;
    while (i + n < chars.length && chars[start + n] === chars[i + n]) n++;
    if (n > longest) longest = n;
  }
  return longest;
}

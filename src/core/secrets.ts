/**
 * The rule every secret of sessionkit follows (the manager's `secrets`, CookieStore's `secrets`):
 * at least 32 characters (fastify/session, OWASP: a shorter HMAC key is guessable offline) and at
 * least 72 bits of estimated entropy, so a placeholder of the right length (32 spaces, "x" × 40,
 * "abcd" × 8) is refused. The estimate is the length times the Shannon entropy of the string's own
 * character frequencies: it catches little variety, not a guessable phrase, so generate secrets
 * (`randomBytes(32).toString("base64url")`); a random 32-character hex string scores about 90+.
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
          'generate one, e.g. randomBytes(32).toString("base64url")',
      );
    }
  }
  return [...(secrets as string[])];
}

/** Length × Shannon entropy of the character frequencies: sum over characters of -n·log2(n / length). */
function estimatedBits(secret: string): number {
  const counts = new Map<string, number>();
  for (const char of secret) counts.set(char, (counts.get(char) ?? 0) + 1);
  let length = 0;
  for (const count of counts.values()) length += count;
  let bits = 0;
  for (const count of counts.values()) bits -= count * Math.log2(count / length);
  return bits;
}

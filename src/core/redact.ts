/**
 * Connection strings with their credentials masked, for error messages: an operator's typo in
 * `--store`, `SESSION_STORE` or `providerConfig` is printed on stderr, in CI logs and in stack
 * traces, and must not carry the database password there. Masked as "***":
 * - the password of URL userinfo (`redis://:PW@`, `postgres://user:PW@`, Go DSN `user:PW@tcp(…)`),
 *   and the whole userinfo when it has no ":" (`sentinel://PW@host` reads it as the password);
 * - the value of password-like parameters in a query string or libpq `keyword=value` text
 *   (`?password=PW`, `password='P W'`, `sslpassword=`, `pass=`, `pwd=`, `secret=`, `token=`).
 * Over-masking is harmless in a message; the string given to the driver is never changed.
 */

// `[scheme://]userinfo@`: userinfo ends at the last "@" (a raw password may itself hold "@").
const USERINFO = /^(\s*(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/?)?)([^\s]*)@/;
const PARAMETER = /(^|[?&;\s])((?:ssl)?(?:password|passwd|pass|pwd|secret|token)\s*=\s*)('(?:[^'\\]|\\.)*'?|[^&\s]*)/gi;

export function redactCredentials(text: string): string {
  let redacted = text.replace(PARAMETER, (_match, lead: string, key: string) => `${lead}${key}***`);
  const userinfo = USERINFO.exec(redacted);
  if (userinfo) {
    const [whole, scheme = "", info = ""] = userinfo;
    const colon = info.indexOf(":");
    const masked = colon < 0 ? "***" : `${info.slice(0, colon)}:***`;
    redacted = `${scheme}${masked}@${redacted.slice(whole.length)}`;
  }
  return redacted;
}

/** The credentials redactCredentials masks in `text`, as written there. */
export function credentialsIn(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(PARAMETER)) found.push(match[3]!.replace(/^'|'$/g, ""));
  const info = USERINFO.exec(text)?.[2];
  if (info !== undefined) found.push(info.includes(":") ? info.slice(info.indexOf(":") + 1) : info);
  return found.filter((credential) => credential !== "");
}

/**
 * A function that masks, in any message, the credentials of `text` (say a `--store` value), as
 * written and percent-encoded or decoded: a driver's own error may quote them in another form.
 */
export function scrubberFor(text: string): (message: string) => string {
  const forms = new Set<string>();
  for (const credential of credentialsIn(text)) {
    forms.add(credential);
    forms.add(encodeURIComponent(credential));
    try {
      forms.add(decodeURIComponent(credential));
    } catch {
      // not percent-encoded: the written form is enough
    }
  }
  const longestFirst = [...forms].filter((form) => form.length > 0).sort((a, b) => b.length - a.length);
  return (message) => longestFirst.reduce((out, form) => out.split(form).join("***"), message);
}

/**
 * A `now` that moves on every call and never repeats: sign-ins made in one millisecond get
 * distinct times, so "newest first" is their order (a tie would go by handle, in any order).
 */
export function movingClock(): () => number {
  let last = 0;
  return () => (last = Math.max(last + 1, Date.now()));
}

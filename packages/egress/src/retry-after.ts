/**
 * Milliseconds to wait from a `Retry-After` value: delay-seconds or an HTTP-date (RFC 9110
 * §10.2.3). Absent or unreadable gives undefined, so the caller's own schedule applies; a
 * negative delay or a date in the past gives 0.
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text === "") return undefined;
  if (/^-?\d+$/.test(text)) {
    const seconds = Number(text);
    return Number.isSafeInteger(seconds * 1000) ? Math.max(0, seconds * 1000) : undefined;
  }
  // Date.parse reads all three HTTP-date forms (IMF-fixdate, RFC 850, asctime); a date must name a day.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

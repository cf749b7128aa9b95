const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** What a duration's text says: whole milliseconds, or why it says nothing. */
export type ParsedDuration = { ms: number } | { error: string };

/**
 * Herald's one duration grammar, for YAML files and the environment: "500ms", "5s", "5m", "2h", "1d"
 * as whole milliseconds.
 */
export function parseDuration(text: string): ParsedDuration {
  const match = DURATION.exec(text);
  const amount = match?.[1];
  const unit = UNIT_MS[match?.[2] ?? ""];
  if (amount === undefined || unit === undefined) {
    return { error: `expected milliseconds or a duration like "500ms", "5s", "5m", "2h", "1d"` };
  }
  const ms = Number(amount) * unit;
  // 1.1 * 1000 is 1100.0000000000002 in floating point; only a real fraction of a millisecond is refused.
  const whole = Math.round(ms);
  if (Math.abs(ms - whole) > 1e-6) return { error: "not a whole number of milliseconds" };
  return { ms: whole };
}

/** A duration as milliseconds, for messages: 600000 is "10m", 1500 is "1500ms". */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"] as const) {
    const size = UNIT_MS[unit] as number;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

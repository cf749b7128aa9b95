import { fail } from "./site.js";
import type { Site } from "./site.js";

const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A YAML duration as milliseconds: "500ms", "5s", "5m", "2h", "1d", or a number (already milliseconds,
 * left for the schema to check). Only files take text; stored configs hold integers.
 */
export function readDuration(site: Site, value: unknown): unknown {
  if (typeof value !== "string") return value;
  const match = DURATION.exec(value);
  const amount = match?.[1];
  const unit = UNIT_MS[match?.[2] ?? ""];
  if (amount === undefined || unit === undefined) {
    return fail(site, `expected milliseconds or a duration like "500ms", "5s", "5m", "2h", "1d"`);
  }
  const ms = Number(amount) * unit;
  // 1.1 * 1000 is 1100.0000000000002 in floating point; only a real fraction of a millisecond is refused.
  const whole = Math.round(ms);
  if (Math.abs(ms - whole) > 1e-6) return fail(site, "not a whole number of milliseconds");
  return whole;
}

import type { Duration } from "./gen/google/protobuf/duration.js";

/** A protobuf Duration as whole milliseconds (absent: 0). */
export function durationToMs(d: Duration | undefined): number {
  return d === undefined ? 0 : d.seconds * 1000 + Math.floor(d.nanos / 1_000_000);
}

/** Whole milliseconds as a protobuf Duration. */
export function durationFromMs(ms: number): Duration {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

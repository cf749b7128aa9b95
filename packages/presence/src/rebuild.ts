import type { Bus } from "@herald/bus";
import { rebuildProjection } from "@herald/projection";
import type { RebuildReport } from "@herald/projection";
import type { Logger } from "@herald/runtime";
import { presenceProjection } from "./projection.js";

export interface RebuildOptions {
  log: Logger;
  /** The bucket to fill (default PRESENCE); created when missing; it should be empty. */
  bucket?: string;
  /** The grace period the live service runs with. */
  graceMs?: number;
  /** The end of the replay's clock: grace periods due by then end (default Date.now()). */
  now?: number;
  /** Only these partitions (default all). */
  partitions?: readonly number[];
}

/**
 * Replays the connection lane of EVENTS from the start through the live fold, and writes the
 * states it ends with. Derived events are not published.
 */
export async function rebuildPresence(bus: Bus, opts: RebuildOptions): Promise<RebuildReport> {
  const bucket = opts.bucket ?? bus.names.buckets.presence;
  return rebuildProjection(presenceProjection({ bucket, graceMs: opts.graceMs ?? 0 }), bus, {
    log: opts.log,
    bucket,
    ...(opts.now === undefined ? {} : { now: opts.now }),
    ...(opts.partitions === undefined ? {} : { partitions: opts.partitions }),
  });
}

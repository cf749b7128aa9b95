import type { Bus } from "@herald/bus";
import { rebuildProjection } from "@herald/projection";
import type { RebuildReport } from "@herald/projection";
import type { Logger } from "@herald/runtime";
import { presenceProjection } from "./projection.js";
import { fixedPresenceSettings } from "./settings.js";
import type { PresenceSettingsOf } from "./settings.js";

export interface RebuildOptions {
  log: Logger;
  /** The bucket to fill (default PRESENCE); created when missing; it should be empty. */
  bucket?: string;
  /** The settings the live service runs with (default: the defaults for every app). */
  settings?: PresenceSettingsOf;
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
  return rebuildProjection(
    presenceProjection({ bucket, settings: opts.settings ?? fixedPresenceSettings() }),
    bus,
    {
      log: opts.log,
      bucket,
      ...(opts.now === undefined ? {} : { now: opts.now }),
      ...(opts.partitions === undefined ? {} : { partitions: opts.partitions }),
    },
  );
}

import type { Bus } from "@herald/bus";
import { startProjection } from "@herald/projection";
import type { ProjectionEngine, ProjectionHooks } from "@herald/projection";
import type { Logger } from "@herald/runtime";
import { presenceProjection } from "./projection.js";
import type { PresenceHooks } from "./projection.js";
import type { PresenceSettingsOf } from "./settings.js";

export interface PresenceEngineOptions {
  bus: Bus;
  log: Logger;
  /** The settings of each app (grace period, node lease margin), read at each fold. */
  settings: PresenceSettingsOf;
  /** How long a partition's lease lasts without renewal (default 10 s). */
  leaseMs?: number;
  /** Names this replica in leases (default: host, pid, random). */
  instanceId?: string;
  /** Events folded into one written batch at most (default 1000). */
  maxBatch?: number;
  /** This replica's clock, which grace periods and lease timers fire by (default Date.now). */
  clock?: () => number;
  hooks?: PresenceHooks & ProjectionHooks & { owned?(partitions: number): void };
}

/** Runs presence in this process: a fair share of the partitions, each folded in stream order. */
export async function startPresence(opts: PresenceEngineOptions): Promise<ProjectionEngine> {
  const { bus } = opts;
  return startProjection(
    presenceProjection({
      bucket: bus.names.buckets.presence,
      settings: opts.settings,
      ...(opts.hooks === undefined ? {} : { hooks: opts.hooks }),
    }),
    {
      bus,
      log: opts.log,
      ...(opts.leaseMs === undefined ? {} : { leaseMs: opts.leaseMs }),
      ...(opts.instanceId === undefined ? {} : { instanceId: opts.instanceId }),
      ...(opts.maxBatch === undefined ? {} : { maxBatch: opts.maxBatch }),
      ...(opts.clock === undefined ? {} : { clock: opts.clock }),
      ...(opts.hooks === undefined ? {} : { hooks: opts.hooks }),
    },
  );
}

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Bus } from "@herald/bus";
import type { Logger } from "@herald/runtime";
import type { ProjectionDefinition } from "./definition.js";
import { Ownership } from "./ownership.js";
import { PartitionRunner } from "./partition.js";
import type { ProjectionHooks } from "./partition.js";

export interface ProjectionOptions {
  bus: Bus;
  log: Logger;
  /** Names this replica in leases (default: host, pid and a random suffix). */
  instanceId?: string;
  /** How long a lease lasts without renewal; a killed replica's partitions move after about this long (default 10 s). */
  leaseMs?: number;
  hooks?: ProjectionHooks & { owned?(partitions: number): void };
  /** Events applied per batch at most (default 1000). */
  maxBatch?: number;
  /** This replica's clock, which timers fire by (default Date.now): a test skews it. */
  clock?: () => number;
}

export interface ProjectionEngine {
  readonly instanceId: string;
  /** Partitions this replica owns now. */
  owned(): number[];
  /** Live replicas of this projection, as this one sees them. */
  members(): string[];
  /** Resolves once every partition owned now has been loaded. */
  ready(): Promise<void>;
  /** Writes what each partition gathered, gives the partitions up and leaves. */
  stop(): Promise<void>;
  /**
   * The settings of an app changed: each owned partition sets the app's timers again (the
   * definition's retime). A partition loaded later reads the settings as they are then.
   */
  retime(appId: string): void;
}

export const DEFAULT_LEASE_MS = 10_000;

/** A unique name for this process: host, pid and a random suffix, as one KV key token. */
export function defaultInstanceId(): string {
  const host = hostname()
    .replace(/[^A-Za-z0-9_-]/g, "-")
    .slice(0, 40);
  return `${host}-${process.pid}-${randomBytes(3).toString("hex")}`;
}

/**
 * Runs a projection in this process: takes a fair share of the partitions (see Ownership) and
 * runs each owned one (see PartitionRunner). Replicas of one projection share the work by
 * partition; a replica's partitions move to the others when it stops or its lease runs out.
 */
export async function startProjection<S>(
  def: ProjectionDefinition<S>,
  opts: ProjectionOptions,
): Promise<ProjectionEngine> {
  const { bus } = opts;
  const instanceId = opts.instanceId ?? defaultInstanceId();
  const log = opts.log.child({ projection: def.name, instance: instanceId });
  const kv = await bus.kv(def.bucket);
  const runners = new Map<number, PartitionRunner<S>>();
  const ownership: Ownership = new Ownership({
    bus,
    bucket: def.bucket,
    kv,
    name: def.name,
    instanceId,
    partitions: bus.layout.partitions,
    leaseMs: opts.leaseMs ?? DEFAULT_LEASE_MS,
    log,
    acquired(partition, lease) {
      const runner = new PartitionRunner({
        bus,
        kv,
        def,
        partition,
        instanceId,
        lease,
        log,
        ...(opts.hooks === undefined ? {} : { hooks: opts.hooks }),
        ...(opts.maxBatch === undefined ? {} : { maxBatch: opts.maxBatch }),
        ...(opts.clock === undefined ? {} : { clock: opts.clock }),
      });
      runners.set(partition, runner);
      opts.hooks?.owned?.(runners.size);
      void runner.finished.then(() => {
        // Ended without being asked: its lease ran out while it worked.
        if (runners.get(partition) === runner) {
          runners.delete(partition);
          ownership.forget(partition);
          opts.hooks?.owned?.(runners.size);
        }
      });
    },
    async released(partition, handover) {
      const runner = runners.get(partition);
      runners.delete(partition);
      opts.hooks?.owned?.(runners.size);
      await runner?.stop(handover);
    },
  });
  await ownership.start();
  return {
    instanceId,
    owned: () => ownership.owned(),
    members: () => ownership.liveMembers(),
    async ready() {
      await Promise.all([...runners.values()].map((r) => r.ready));
    },
    stop: () => ownership.stop(),
    retime(appId) {
      for (const runner of runners.values()) runner.retime(appId);
    },
  };
}

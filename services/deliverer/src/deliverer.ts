import type { Bus } from "@herald/bus";
import type { ConfigView } from "@herald/config";
import { Ownership, defaultInstanceId } from "@herald/projection";
import type { LeaseView } from "@herald/projection";
import type { Logger } from "@herald/runtime";
import { Dispatcher } from "./dispatcher.js";
import { JobPartition } from "./job-partition.js";
import type { DelivererMetrics } from "./metrics.js";
import { migrateLegacyRouter, startLegacyDrain } from "./migrate.js";
import { OPERATIONAL_PARTITION, OperationalEvents } from "./operational-events.js";
import { PartitionRouter } from "./router.js";

export interface DelivererOptions {
  bus: Bus;
  view: ConfigView;
  log: Logger;
  metrics: DelivererMetrics;
  allowLoopback: boolean;
  /** How long a partition's lease lasts without renewal (a killed deliverer's partitions move after about this long). */
  leaseMs: number;
  /** Jobs one partition may hold at once. */
  maxHeldPerPartition: number;
  /** Requests in flight in this process, over every endpoint. */
  maxInFlight: number;
  instanceId?: string;
}

export interface Deliverer {
  readonly dispatcher: Dispatcher;
  owned(): number[];
  stop(): Promise<void>;
}

/** Names the deliverer's leases and members in the DELIVERY bucket. */
export const DELIVERER_NAME = "deliverer";

/**
 * Runs this deliverer's share of the partitions (see Ownership in @herald/projection): for each one
 * it owns, it routes that partition of EVENTS into jobs (PartitionRouter) and sends that partition's
 * jobs (JobPartition, through the Dispatcher's endpoint queues). Replicas share the work by
 * partition; a replica's partitions move to the others when it stops or its lease runs out. So the
 * deliverer holds two consumers per partition, whatever the number of endpoints.
 */
export async function startDeliverer(opts: DelivererOptions): Promise<Deliverer> {
  const { bus, log } = opts;
  const instanceId = opts.instanceId ?? defaultInstanceId();
  const bucket = bus.names.buckets.delivery;
  const kv = await bus.kv(bucket);
  await migrateLegacyRouter(bus, kv, log);
  const drain = await startLegacyDrain(bus, log);
  const dispatcher = new Dispatcher({
    bus,
    view: opts.view,
    log,
    metrics: opts.metrics,
    allowLoopback: opts.allowLoopback,
    maxInFlight: opts.maxInFlight,
  });
  const running = new Map<
    number,
    { router: PartitionRouter; jobs: JobPartition; operational: OperationalEvents | undefined }
  >();
  const ownership: Ownership = new Ownership({
    bus,
    bucket,
    kv,
    name: DELIVERER_NAME,
    instanceId,
    partitions: bus.layout.partitions,
    leaseMs: opts.leaseMs,
    log: log.child({ component: "ownership", instance: instanceId }),
    acquired(partition, lease) {
      // A partition lost and claimed again at once starts only once its last run has stopped and
      // been forgotten: otherwise that run's end would forget the new one.
      void (stopping.get(partition) ?? Promise.resolve()).then(() => start(partition, lease));
    },
    async released(partition) {
      await stop(partition);
    },
  });

  const stopping = new Map<number, Promise<void>>();
  const stop = (partition: number): Promise<void> => {
    const both = running.get(partition);
    running.delete(partition);
    const done = (async () => {
      await stopping.get(partition);
      await Promise.all([both?.router.stop(), both?.jobs.stop(), both?.operational?.stop()]);
      await dispatcher.disown(partition);
    })();
    stopping.set(partition, done);
    void done.finally(() => {
      if (stopping.get(partition) === done) stopping.delete(partition);
    });
    return done;
  };

  const start = (partition: number, lease: LeaseView): void => {
    if (!lease.valid()) {
      ownership.forget(partition);
      return;
    }
    const plog = log.child({ partition });
    dispatcher.own(partition, lease);
    const router = new PartitionRouter({
      bus,
      kv,
      view: opts.view,
      log: plog,
      metrics: opts.metrics,
      instanceId,
      partition,
      lease,
    });
    const jobs = new JobPartition({
      bus,
      kv,
      partition,
      lease,
      log: plog,
      maxHeld: opts.maxHeldPerPartition,
      reset: (p) => dispatcher.reset(p),
      message: (p, m) => dispatcher.message(p, m),
      loaded: (p) => dispatcher.loaded(p),
    });
    // The owner of one partition also derives the operational events (see OperationalEvents).
    const operational =
      partition === OPERATIONAL_PARTITION
        ? new OperationalEvents({
            bus,
            kv,
            view: opts.view,
            log: plog,
            metrics: opts.metrics,
            instanceId,
            lease,
          })
        : undefined;
    const both = { router, jobs, operational };
    running.set(partition, both);
    // They end on their own only when the lease ran out while they worked.
    void Promise.all([router.finished, jobs.finished, operational?.finished]).then(async () => {
      if (running.get(partition) !== both) return;
      await stop(partition);
      ownership.forget(partition);
    });
  };

  await ownership.start();
  return {
    dispatcher,
    owned: () => ownership.owned(),
    async stop() {
      await drain.stop();
      await ownership.stop();
      await dispatcher.stop();
    },
  };
}

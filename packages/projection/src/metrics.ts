import { Counter, Gauge, Histogram } from "prom-client";
import type { Metric, Registry } from "prom-client";
import type { ProjectionHooks } from "./partition.js";

/**
 * The kit's metrics for one projection, labelled with its name, handed to startProjection as hooks.
 * A service that runs several projections (chatroom) calls it once per name: the metrics are
 * registered once per registry and shared, told apart by the label.
 */
export function projectionMetrics(
  registry: Registry,
  name: string,
): ProjectionHooks & { owned(partitions: number): void } {
  const labels = { projection: name };
  const once = <M extends Metric>(metric: string, make: () => M): M =>
    (registry.getSingleMetric(metric) as M | undefined) ?? make();
  const owned = once(
    "herald_projection_partitions_owned",
    () =>
      new Gauge({
        name: "herald_projection_partitions_owned",
        help: "Partitions this replica owns",
        labelNames: ["projection"] as const,
        registers: [registry],
      }),
  );
  const applied = once(
    "herald_projection_events_applied_total",
    () =>
      new Counter({
        name: "herald_projection_events_applied_total",
        help: "Stored events folded and written",
        labelNames: ["projection"] as const,
        registers: [registry],
      }),
  );
  const batch = once(
    "herald_projection_batch_events",
    () =>
      new Histogram({
        name: "herald_projection_batch_events",
        help: "Events per written batch",
        labelNames: ["projection"] as const,
        buckets: [1, 4, 16, 64, 256, 1000],
        registers: [registry],
      }),
  );
  const flushSeconds = once(
    "herald_projection_flush_seconds",
    () =>
      new Histogram({
        name: "herald_projection_flush_seconds",
        help: "Time to write one batch (checkpoint, derived events, states)",
        labelNames: ["projection"] as const,
        buckets: [0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 1, 5],
        registers: [registry],
      }),
  );
  const loads = once(
    "herald_projection_partition_loads_total",
    () =>
      new Counter({
        name: "herald_projection_partition_loads_total",
        help: "Partitions loaded (taken over, or loaded again after a failure)",
        labelNames: ["projection"] as const,
        registers: [registry],
      }),
  );
  const failures = once(
    "herald_projection_partition_failures_total",
    () =>
      new Counter({
        name: "herald_projection_partition_failures_total",
        help: "Partitions stopped by a failure, by error name (LeaseLostError: fenced)",
        labelNames: ["projection", "error"] as const,
        registers: [registry],
      }),
  );
  const skipped = once(
    "herald_projection_skipped_total",
    () =>
      new Counter({
        name: "herald_projection_skipped_total",
        help: "Stored messages skipped: not a protobuf Event, or the fold failed on it (see the error log)",
        labelNames: ["projection", "reason"] as const,
        registers: [registry],
      }),
  );
  return {
    owned: (n) => owned.set(labels, n),
    applied: (n) => applied.inc(labels, n),
    flushed: (b) => {
      batch.observe(labels, b.events);
      flushSeconds.observe(labels, b.ms / 1000);
    },
    loaded: () => loads.inc(labels),
    failed: (_p, error) => failures.inc({ ...labels, error }),
    skipped: (reason) => skipped.inc({ ...labels, reason }),
  };
}

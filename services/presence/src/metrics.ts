import { Counter, Gauge, type Registry } from "prom-client";
import type { PresenceHooks } from "@herald/presence";

/** The presence service's counters, handed to the engine as hooks (the kit's come from projectionMetrics). */
export function createPresenceMetrics(
  registry: Registry,
  gauges: { configRevision: () => number },
): PresenceHooks {
  new Gauge({
    name: "herald_presence_config_revision",
    help: "The highest CONFIG revision this presence has applied: apps' presence settings written at or below it are in force",
    registers: [registry],
    collect() {
      this.set(gauges.configRevision());
    },
  });
  const folded = new Counter({
    name: "herald_presence_events_folded_total",
    help: "Connection and node events folded, by event type",
    labelNames: ["type"] as const,
    registers: [registry],
  });
  const derived = new Counter({
    name: "herald_presence_derived_total",
    help: "Derived user events, by type",
    labelNames: ["type"] as const,
    registers: [registry],
  });
  const anomalies = new Counter({
    name: "herald_presence_anomalies_total",
    help: "Events that made no sense (offline of an unknown connection...), by kind; never applied",
    labelNames: ["kind"] as const,
    registers: [registry],
  });
  return {
    folded: (type) => folded.inc({ type }),
    derived: (type) => derived.inc({ type }),
    anomaly: (kind) => anomalies.inc({ kind }),
  };
}

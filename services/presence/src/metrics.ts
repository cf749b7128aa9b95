import { Counter, type Registry } from "prom-client";
import type { PresenceHooks } from "@herald/presence";

/** The presence service's counters, handed to the engine as hooks. */
export function createPresenceMetrics(registry: Registry): PresenceHooks {
  const folded = new Counter({
    name: "herald_presence_events_folded_total",
    help: "Connection and node events folded, by event type",
    labelNames: ["type"] as const,
    registers: [registry],
  });
  const derived = new Counter({
    name: "herald_presence_derived_published_total",
    help: "Derived user events published, by type and whether the stream already held them",
    labelNames: ["type", "duplicate"] as const,
    registers: [registry],
  });
  const anomalies = new Counter({
    name: "herald_presence_anomalies_total",
    help: "Events that made no sense (offline of an unknown connection...), by kind; never applied",
    labelNames: ["kind"] as const,
    registers: [registry],
  });
  const conflicts = new Counter({
    name: "herald_presence_cas_conflicts_total",
    help: "Compare-and-set conflicts on a user's state (another replica wrote it first)",
    registers: [registry],
  });
  return {
    folded: (type) => folded.inc({ type }),
    derived: (type, duplicate) => derived.inc({ type, duplicate: String(duplicate) }),
    anomaly: (kind) => anomalies.inc({ kind }),
    conflict: () => conflicts.inc(),
  };
}

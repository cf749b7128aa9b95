import { Counter, Gauge, type Registry } from "prom-client";
import type { ChatroomHooks } from "@herald/chatroom";

/** The chatroom service's counters, handed to the engine as hooks (the kit's come from projectionMetrics). */
export function createChatroomMetrics(
  registry: Registry,
  gauges: { configRevision: () => number },
): ChatroomHooks {
  new Gauge({
    name: "herald_chatroom_config_revision",
    help: "The highest CONFIG revision this chatroom has applied: apps' chatroom settings written at or below it are in force",
    registers: [registry],
    collect() {
      this.set(gauges.configRevision());
    },
  });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter({ name, help, labelNames, registers: [registry] });
  const folded = counter("herald_chatroom_events_folded_total", "Room events folded, by type", ["type"]);
  const rejected = counter(
    "herald_chatroom_rejected_total",
    "Room events not applied (invalid transitions), by reason",
    ["reason"],
  );
  const stale = counter(
    "herald_chatroom_stale_automatic_total",
    "Automatic changes that no longer applied when folded",
    [],
  );
  const derived = counter(
    "herald_chatroom_derived_total",
    "Derived room events (room.status, room.rejected, idle destroys), by type",
    ["type"],
  );
  const automatic = counter(
    "herald_chatroom_automatic_total",
    "Automatic changes derived (auto-kick, idle destroy), by kind",
    ["kind"],
  );
  return {
    folded: (type) => folded.inc({ type }),
    rejected: (reason) => rejected.inc({ reason }),
    staleAutomatic: () => stale.inc(),
    derived: (type) => derived.inc({ type }),
    automatic: (kind) => automatic.inc({ kind }),
  };
}

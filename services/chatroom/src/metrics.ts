import { Counter, type Registry } from "prom-client";
import type { ChatroomHooks } from "@herald/chatroom";

/** The chatroom service's counters, handed to the engine as hooks. */
export function createChatroomMetrics(registry: Registry): ChatroomHooks {
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
    "herald_chatroom_derived_published_total",
    "Derived room events published, by type and whether the stream already held them",
    ["type", "duplicate"],
  );
  const automatic = counter(
    "herald_chatroom_automatic_published_total",
    "Automatic changes published (auto-kick, idle destroy), by kind and whether already stored",
    ["kind", "duplicate"],
  );
  const conflicts = counter(
    "herald_chatroom_cas_conflicts_total",
    "Compare-and-set conflicts on a room (another replica wrote it first)",
    [],
  );
  return {
    folded: (type) => folded.inc({ type }),
    rejected: (reason) => rejected.inc({ reason }),
    staleAutomatic: () => stale.inc(),
    derived: (type, duplicate) => derived.inc({ type, duplicate: String(duplicate) }),
    automatic: (kind, duplicate) => automatic.inc({ kind, duplicate: String(duplicate) }),
    conflict: () => conflicts.inc(),
  };
}

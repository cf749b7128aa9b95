/** An attempt as the admin API shows it (Attempt.toJSON: fields at their defaults are left out). */
export interface AttemptView {
  id?: string;
  endpointId?: string;
  eventId?: string;
  url?: string;
  statusCode?: number;
  outcome?: string;
  error?: string;
  latencyMs?: number;
  attempt?: number;
  at?: string;
  kind?: string;
  deliveryId?: string;
  hook?: string;
  eventType?: string;
  trigger?: string;
}

/** One line per attempt: when, what, where, how it ended. */
export function attemptLine(a: AttemptView): string {
  const what =
    a.kind === "before" ? `before ${a.hook ?? ""}` : `${a.eventType ?? "?"} -> ${a.endpointId ?? "?"}`;
  const status = a.statusCode === undefined ? "" : ` HTTP ${a.statusCode}`;
  const trigger = a.trigger === undefined || a.trigger === "event" ? "" : ` (${a.trigger})`;
  const error = a.error === undefined ? "" : `: ${a.error}`;
  return `${a.at ?? "?"}  ${what}  #${a.attempt ?? 0}${trigger}  ${a.outcome ?? "?"}${status} ${a.latencyMs ?? 0}ms  ${a.deliveryId ?? a.eventId ?? ""}${error}`;
}

import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** One endpoint's state, for the state gauge. */
export interface EndpointStateSample {
  app: string;
  endpoint: string;
  state: "active" | "paused" | "disabled";
  failing: boolean;
}

const ENDPOINT_STATES = ["active", "paused", "disabled"] as const;

export function createDelivererMetrics(
  registry: Registry,
  gauges: {
    endpoints: () => number;
    held: () => number;
    configRevision: () => number;
    endpointStates?: () => Iterable<EndpointStateSample>;
  } = {
    endpoints: () => 0,
    held: () => 0,
    configRevision: () => 0,
  },
) {
  return {
    routed: new Counter({
      name: "herald_deliverer_jobs_routed_total",
      help: "Delivery jobs written by the router (one per event and matching endpoint)",
      registers: [registry],
    }),
    attempts: new Counter({
      name: "herald_deliverer_attempts_total",
      help: "Delivery attempts by dialect and verdict (delivered, retry, dead)",
      labelNames: ["dialect", "verdict"] as const,
      registers: [registry],
    }),
    attemptSeconds: new Histogram({
      name: "herald_deliverer_attempt_seconds",
      help: "Time of the HTTP call to the business server",
      labelNames: ["dialect"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    stateChanges: new Counter({
      name: "herald_deliverer_endpoint_state_changes_total",
      help: "Endpoints paused or disabled by the deliverer",
      labelNames: ["state"] as const,
      registers: [registry],
    }),
    endpoints: new Gauge({
      name: "herald_deliverer_endpoints",
      help: "Endpoints this deliverer holds jobs for (or held them lately)",
      registers: [registry],
      collect() {
        this.set(gauges.endpoints());
      },
    }),
    configRevision: new Gauge({
      name: "herald_deliverer_config_revision",
      help: "The highest CONFIG revision this deliverer has applied: apps written at or below it are routed",
      registers: [registry],
      collect() {
        this.set(gauges.configRevision());
      },
    }),
    operationalEvents: new Counter({
      name: "herald_deliverer_operational_events_total",
      help: "Operational events derived from endpoint state changes (disabled, paused, enabled, failing, recovered), by app, endpoint and kind",
      labelNames: ["app", "endpoint", "kind"] as const,
      registers: [registry],
    }),
    endpointState: new Gauge({
      name: "herald_deliverer_endpoint_state",
      help: "1 for each configured endpoint's current state (active, paused, disabled), 0 for the others; every deliverer reports every endpoint",
      labelNames: ["app", "endpoint", "state"] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of gauges.endpointStates?.() ?? []) {
          for (const state of ENDPOINT_STATES) {
            this.set({ app: s.app, endpoint: s.endpoint, state }, s.state === state ? 1 : 0);
          }
        }
      },
    }),
    endpointFailing: new Gauge({
      name: "herald_deliverer_endpoint_failing",
      help: "1 while a configured endpoint is marked failing (failingAfterAttempts attempts in a row failed, no success since), else 0",
      labelNames: ["app", "endpoint"] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of gauges.endpointStates?.() ?? []) {
          this.set({ app: s.app, endpoint: s.endpoint }, s.failing ? 1 : 0);
        }
      },
    }),
    held: new Gauge({
      name: "herald_deliverer_jobs_held",
      help: "Jobs this deliverer holds: waiting for their key, a retry, a paused endpoint, or being sent",
      registers: [registry],
      collect() {
        this.set(gauges.held());
      },
    }),
  };
}

export type DelivererMetrics = ReturnType<typeof createDelivererMetrics>;

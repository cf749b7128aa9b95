import { Counter, Histogram, type Registry } from "prom-client";

export function createGatewayMetrics(registry: Registry) {
  return {
    events: new Counter({
      name: "herald_gateway_events_total",
      help: "Events received through Publish, by outcome (stored, duplicate)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    before: new Counter({
      name: "herald_gateway_before_total",
      help: "Before-hook decisions by source (why) and decision",
      labelNames: ["source", "decision"] as const,
      registers: [registry],
    }),
    beforeSeconds: new Histogram({
      name: "herald_gateway_before_seconds",
      help: "Time to answer a before-hook, hops and business server included",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    publishSeconds: new Histogram({
      name: "herald_gateway_publish_seconds",
      help: "Time from receiving a Publish batch to JetStream's acknowledgement of all of it",
      labelNames: ["outcome"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export function createEvaluatorMetrics(registry: Registry, openBreakers: () => number) {
  return {
    calls: new Counter({
      name: "herald_evaluator_calls_total",
      help: "Before-hook evaluations by outcome (continue, modify, deny, failed_continue, failed_deny, breaker_open_*)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    retries: new Counter({
      name: "herald_evaluator_retries_total",
      help: "Before-hook calls retried under the hook's policy (each is also in the attempt log)",
      registers: [registry],
    }),
    callSeconds: new Histogram({
      name: "herald_evaluator_business_call_seconds",
      help: "Time of the HTTP call to the business server",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    breakersOpen: new Gauge({
      name: "herald_evaluator_breakers_open",
      help: "(app, hook) breakers that are open or half-open",
      registers: [registry],
      collect() {
        this.set(openBreakers());
      },
    }),
  };
}

export type EvaluatorMetrics = ReturnType<typeof createEvaluatorMetrics>;

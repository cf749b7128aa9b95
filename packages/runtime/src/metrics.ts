import { Registry, collectDefaultMetrics } from "prom-client";

export type { Registry } from "prom-client";

/** A registry per service (never the global one) with Node's default metrics and `service` on every series. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

import type { BaseEnv, Logger } from "@herald/runtime";
import { connectBus, type Bus } from "./connection.js";
import { applyTopology } from "./topology.js";

/**
 * What every service does first: connect to NATS as configured, then make sure the streams and
 * the CONFIG bucket exist as declared (idempotent, so any service may start first).
 */
export async function startBus(opts: { config: BaseEnv; name: string; log: Logger }): Promise<Bus> {
  const bus = await connectBus({
    servers: opts.config.NATS_URL,
    name: opts.name,
    log: opts.log,
    namespace: opts.config.HERALD_NAMESPACE,
  });
  await applyTopology(bus, { replicas: opts.config.STREAM_REPLICAS });
  return bus;
}

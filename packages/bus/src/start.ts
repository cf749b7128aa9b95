import type { BaseEnv, Logger } from "@herald/runtime";
import { connectBus, type Bus } from "./connection.js";
import { isNatsUnanswered } from "./nats-errors.js";
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
  await withRetries(
    () =>
      applyTopology(bus, {
        replicas: opts.config.STREAM_REPLICAS,
        eventDedupWindowMs: opts.config.EVENT_DEDUP_WINDOW,
        ...(opts.config.HERALD_PARTITIONS === undefined ? {} : { partitions: opts.config.HERALD_PARTITIONS }),
      }),
    opts.log,
  );
  return bus;
}

const TOPOLOGY_DEADLINE_MS = 60_000;

/**
 * Declaring streams on a JetStream cluster that is still electing leaders, or busy creating the same
 * replicated streams for another service, can time out: that is a reason to try again, not to exit.
 * Anything that is not a timeout (a stream that cannot be updated in place) fails at once.
 */
async function withRetries(apply: () => Promise<void>, log: Logger): Promise<void> {
  const deadline = Date.now() + TOPOLOGY_DEADLINE_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await apply();
    } catch (err) {
      if (!isNatsUnanswered(err) || Date.now() >= deadline) throw err;
      const pauseMs = Math.min(5_000, 250 * 2 ** (attempt - 1));
      log.warn({ err, attempt, pauseMs }, "declaring streams timed out; trying again");
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
}

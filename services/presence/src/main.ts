// Folds connection events into presence per user across devices, and publishes user.* events.
import { runService } from "@herald/runtime";
import { startBus } from "@herald/bus";
import { projectionMetrics } from "@herald/projection";
import { PRESENCE_PROJECTION, fixedPresenceSettings, startPresence } from "@herald/presence";
import { createPresenceMetrics } from "./metrics.js";
import { schema } from "./config.js";

await runService({
  name: "presence",
  schema,
  async start({ config, log, registry }) {
    const bus = await startBus({ config, name: "herald-presence", log });
    const engine = await startPresence({
      bus,
      log,
      settings: fixedPresenceSettings({
        graceMs: config.PRESENCE_GRACE_MS,
        nodeLeaseMarginMs: config.PRESENCE_NODE_LEASE_MARGIN_MS,
      }),
      leaseMs: config.PROJECTION_LEASE_MS,
      maxBatch: config.PROJECTION_BATCH,
      hooks: { ...createPresenceMetrics(registry), ...projectionMetrics(registry, PRESENCE_PROJECTION) },
    });
    return {
      checks: {
        nats: () => bus.isConnected(),
      },
      shutdown: [
        { name: "presence partitions", run: () => engine.stop() },
        { name: "nats drain", run: () => bus.drain() },
      ],
    };
  },
});

// Folds connection events into presence per user across devices, and publishes user.* events.
import { runService } from "@herald/runtime";
import { startBus } from "@herald/bus";
import { appSettingsOf, onAppSettingsChange, watchConfig } from "@herald/config";
import { projectionMetrics } from "@herald/projection";
import { PRESENCE_PROJECTION, startPresence } from "@herald/presence";
import { createPresenceMetrics } from "./metrics.js";
import { schema } from "./config.js";

await runService({
  name: "presence",
  schema,
  async start({ config, log, registry }) {
    const bus = await startBus({ config, name: "herald-presence", log });
    // Each app's presence block, over the environment's defaults (loaded before the first fold).
    const view = await watchConfig(bus, log);
    const engine = await startPresence({
      bus,
      log,
      settings: appSettingsOf(view, "presence", {
        graceMs: config.PRESENCE_GRACE_MS,
        nodeLeaseMarginMs: config.PRESENCE_NODE_LEASE_MARGIN_MS,
      }),
      leaseMs: config.PROJECTION_LEASE_MS,
      maxBatch: config.PROJECTION_BATCH,
      hooks: {
        ...createPresenceMetrics(registry, { configRevision: () => view.revision() }),
        ...projectionMetrics(registry, PRESENCE_PROJECTION),
      },
    });
    // A changed grace period or lease margin also moves what already waits on the old one.
    const stopRetiming = onAppSettingsChange(view, "presence", (appId) => engine.retime(appId));
    return {
      checks: {
        nats: () => bus.isConnected(),
      },
      shutdown: [
        {
          name: "presence partitions",
          run: async () => {
            stopRetiming();
            await engine.stop();
          },
        },
        { name: "config watch", run: () => view.close() },
        { name: "nats drain", run: () => bus.drain() },
      ],
    };
  },
});

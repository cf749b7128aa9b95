// Folds connection events into presence per user across devices, and publishes user.* events.
import { runService } from "@herald/runtime";
import { startBus } from "@herald/bus";
import { startPresence } from "@herald/presence";
import { createPresenceMetrics } from "./metrics.js";
import { schema } from "./config.js";

await runService({
  name: "presence",
  schema,
  async start({ config, log, registry }) {
    const bus = await startBus({ config, name: "herald-presence", log });
    const engine = startPresence({
      bus,
      log,
      graceMs: config.PRESENCE_GRACE_MS,
      concurrency: config.PRESENCE_CONCURRENCY,
      ackWaitMs: config.PRESENCE_ACK_WAIT_MS,
      ...(config.PRESENCE_SWEEP_MS === undefined ? {} : { sweepMs: config.PRESENCE_SWEEP_MS }),
      hooks: createPresenceMetrics(registry),
    });
    return {
      checks: {
        nats: () => bus.isConnected(),
        consumers: () => engine.consumers.every((c) => c.state === "running"),
      },
      shutdown: [
        { name: "presence consumers", run: (signal) => engine.stop(signal) },
        { name: "nats drain", run: () => bus.drain() },
      ],
    };
  },
});

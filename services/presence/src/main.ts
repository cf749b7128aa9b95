// Folds connection events into presence per user across devices, and publishes user.* events.
import { z } from "zod";
import { baseEnvSchema, runService } from "@herald/runtime";
import { startBus } from "@herald/bus";
import { startPresence } from "@herald/presence";
import { createPresenceMetrics } from "./metrics.js";

const schema = baseEnvSchema.extend({
  // One grace period for every app for now; a per-app setting in CONFIG can replace it later.
  PRESENCE_GRACE_MS: z.coerce.number().int().min(0).default(0),
  PRESENCE_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(64),
  PRESENCE_SWEEP_MS: z.coerce.number().int().min(10).optional(),
  // How soon the events a killed replica held are redelivered to another.
  PRESENCE_ACK_WAIT_MS: z.coerce.number().int().min(1000).default(30_000),
});

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

// Folds connection events into presence per user across devices (the presence issue fills this in).
import { baseEnvSchema, runService } from "@herald/runtime";
import { startBus } from "@herald/bus";

await runService({
  name: "presence",
  schema: baseEnvSchema,
  async start({ config, log }) {
    const bus = await startBus({ config, name: "herald-presence", log });
    return {
      checks: { nats: () => bus.isConnected() },
      shutdown: [{ name: "nats drain", run: () => bus.drain() }],
    };
  },
});

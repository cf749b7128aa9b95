// Routes events to endpoints and delivers callbacks (the deliverer issue fills this in).
import { baseEnvSchema, runService } from "@herald/runtime";
import { startBus } from "@herald/bus";

await runService({
  name: "deliverer",
  schema: baseEnvSchema,
  async start({ config, log }) {
    const bus = await startBus({ config, name: "herald-deliverer", log });
    return {
      checks: { nats: () => bus.isConnected() },
      shutdown: [{ name: "nats drain", run: () => bus.drain() }],
    };
  },
});

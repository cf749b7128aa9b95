// Answers before-hooks for the gateway by calling the business servers (the before-hooks issue fills this in).
import { baseEnvSchema, runService } from "@herald/runtime";
import { startBus } from "@herald/bus";

await runService({
  name: "evaluator",
  schema: baseEnvSchema,
  async start({ config, log }) {
    const bus = await startBus({ config, name: "herald-evaluator", log });
    return {
      checks: { nats: () => bus.isConnected() },
      shutdown: [{ name: "nats drain", run: () => bus.drain() }],
    };
  },
});

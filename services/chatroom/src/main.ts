// Folds room events into chatroom membership (the chatroom issue fills this in).
import { baseEnvSchema, runService } from "@herald/runtime";
import { startBus } from "@herald/bus";

await runService({
  name: "chatroom",
  schema: baseEnvSchema,
  async start({ config, log }) {
    const bus = await startBus({ config, name: "herald-chatroom", log });
    return {
      checks: { nats: () => bus.isConnected() },
      shutdown: [{ name: "nats drain", run: () => bus.drain() }],
    };
  },
});

// Routes events to endpoints and delivers callbacks: signed, batched, retried, recorded.
import { startBus } from "@herald/bus";
import { watchConfig } from "@herald/config";
import { runService } from "@herald/runtime";
import { startFleet } from "./fleet.js";
import { createDelivererMetrics } from "./metrics.js";
import { startRouter } from "./router.js";
import { schema } from "./config.js";

await runService({
  name: "deliverer",
  schema,
  async start({ config, log, registry }) {
    const bus = await startBus({ config, name: "herald-deliverer", log });
    const view = await watchConfig(bus, log);
    let fleetSize = () => 0;
    const metrics = createDelivererMetrics(registry, () => fleetSize());
    const fleet = startFleet({ bus, view, log, metrics, allowLoopback: config.DELIVERY_ALLOW_LOOPBACK });
    fleetSize = () => fleet.size();
    const router = startRouter({ bus, view, log, metrics, concurrency: config.ROUTER_CONCURRENCY });
    return {
      checks: { nats: () => bus.isConnected() },
      shutdown: [
        { name: "stop routing", run: (signal) => router.stop(signal) },
        { name: "finish deliveries in hand", run: (signal) => fleet.stop(signal) },
        { name: "config watch", run: () => view.close() },
        { name: "nats drain", run: () => bus.drain() },
      ],
    };
  },
});

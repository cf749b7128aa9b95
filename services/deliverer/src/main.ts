// Routes events to endpoints and delivers callbacks: ordered per key, signed, batched, retried, recorded.
import { startBus } from "@herald/bus";
import { watchConfig } from "@herald/config";
import { runService } from "@herald/runtime";
import { startDeliverer } from "./deliverer.js";
import { createDelivererMetrics } from "./metrics.js";
import { endpointStates } from "./endpoint-state.js";
import type { Dispatcher } from "./dispatcher.js";
import { schema } from "./config.js";

await runService({
  name: "deliverer",
  schema,
  async start({ config, log, registry }) {
    const bus = await startBus({ config, name: "herald-deliverer", log });
    const view = await watchConfig(bus, log);
    // The gauges read the dispatcher, which starts after the metrics it reports to.
    const started: { dispatcher?: Dispatcher } = {};
    const metrics = createDelivererMetrics(registry, {
      endpoints: () => started.dispatcher?.size() ?? 0,
      held: () => started.dispatcher?.held() ?? 0,
      configRevision: () => view.revision(),
      endpointStates: () => endpointStates(view),
    });
    const deliverer = await startDeliverer({
      bus,
      view,
      log,
      metrics,
      allowLoopback: config.DELIVERY_ALLOW_LOOPBACK,
      leaseMs: config.PROJECTION_LEASE_MS,
      maxHeldPerPartition: config.DELIVERY_PARTITION_MAX_JOBS,
      maxInFlight: config.DELIVERY_MAX_IN_FLIGHT,
    });
    started.dispatcher = deliverer.dispatcher;
    return {
      checks: { nats: () => bus.isConnected() },
      shutdown: [
        { name: "finish deliveries in hand, hand partitions over", run: () => deliverer.stop() },
        { name: "config watch", run: () => view.close() },
        { name: "nats drain", run: () => bus.drain() },
      ],
    };
  },
});

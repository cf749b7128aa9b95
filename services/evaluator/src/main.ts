// Answers before-hooks for the gateway: calls the app's business server and decides.
import { randomBytes } from "node:crypto";
import { BeforeRequest, BeforeResponse } from "@herald/proto";
import { runService } from "@herald/runtime";
import { largestPayloadBytes, messageLimitBytes, publishAttempt, serveRpc, startBus } from "@herald/bus";
import { watchConfig } from "@herald/config";
import { createAppAgents, createHookProviders } from "@herald/egress";
import { Breakers } from "./breaker.js";
import { createEvaluator } from "./evaluate.js";
import { createEvaluatorMetrics } from "./metrics.js";
import { schema } from "./config.js";

await runService({
  name: "evaluator",
  schema,
  async start({ config, log, registry }) {
    const bus = await startBus({ config, name: "herald-evaluator", log });
    const view = await watchConfig(bus, log);
    // Keep-alive pools per business server origin, every connection checked by the app's SSRF policy.
    const agents = createAppAgents(config.DELIVERY_ALLOW_LOOPBACK, {
      connections: config.HTTP_CONNECTIONS_PER_ORIGIN,
    });
    // One Decide stream per gRPC hook provider target, each resolved and checked by the app's policy.
    const providers = createHookProviders(config.DELIVERY_ALLOW_LOOPBACK);
    const breakers = new Breakers();
    const metrics = createEvaluatorMetrics(registry, () => breakers.openCount());
    const evaluate = createEvaluator({
      config: view,
      agents,
      providers,
      breakers,
      metrics,
      log,
      maxPayloadBytes: largestPayloadBytes(messageLimitBytes(bus)),
      recordAttempt: (record) => {
        try {
          publishAttempt(bus, record);
        } catch (err) {
          log.warn({ err, appId: record.appId }, "attempt record not sent");
        }
      },
    });
    const server = serveRpc({
      bus,
      subject: bus.names.subjects.befores(),
      queue: "evaluator",
      instanceId: `evaluator-${process.pid}-${randomBytes(3).toString("hex")}`,
      log,
      handle: async (data, ctx) =>
        BeforeResponse.encode(await evaluate(BeforeRequest.decode(data), ctx.deadlineMs)).finish(),
    });
    await server.ready;
    return {
      checks: { nats: () => bus.isConnected() },
      shutdown: [
        { name: "stop taking hooks, finish those in hand", run: (signal) => server.stop(signal) },
        { name: "config watch", run: () => view.close() },
        { name: "nats drain", run: () => bus.drain() },
        { name: "http pools", run: () => agents.close() },
        { name: "hook provider streams", run: () => providers.close() },
      ],
    };
  },
});

// Answers before-hooks for the gateway: calls the app's business server and decides.
import { randomBytes } from "node:crypto";
import { BeforeRequest, BeforeResponse } from "@herald/proto";
import { runService } from "@herald/runtime";
import { serveRpc, startBus } from "@herald/bus";
import { watchConfig } from "@herald/config";
import { createEvaluatorRuntime } from "./in-process.js";
import { schema } from "./config.js";

await runService({
  name: "evaluator",
  schema,
  async start({ config, log, registry }) {
    const bus = await startBus({ config, name: "herald-evaluator", log });
    const view = await watchConfig(bus, log);
    const evaluator = createEvaluatorRuntime({ bus, config: view, log, registry, env: config });
    const server = serveRpc({
      bus,
      subject: bus.names.subjects.befores(),
      queue: "evaluator",
      instanceId: `evaluator-${process.pid}-${randomBytes(3).toString("hex")}`,
      log,
      handle: async (data, ctx) =>
        BeforeResponse.encode(
          await evaluator.evaluate(BeforeRequest.decode(data), ctx.deadlineMs, ctx.trace),
        ).finish(),
    });
    await server.ready;
    return {
      checks: { nats: () => bus.isConnected() },
      shutdown: [
        { name: "stop taking hooks, finish those in hand", run: (signal) => server.stop(signal) },
        { name: "attempt records in hand", run: () => Promise.resolve(evaluator.flushRecords()) },
        { name: "config watch", run: () => view.close() },
        { name: "nats drain", run: () => bus.drain() },
        { name: "http pools and hook provider streams", run: () => evaluator.close() },
      ],
    };
  },
});

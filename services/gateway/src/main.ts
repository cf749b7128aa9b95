import { z } from "zod";
import {
  ChatroomServiceService,
  DeliveryLogServiceService,
  HeraldServiceService,
  PresenceServiceService,
} from "@herald/proto";
import { baseEnvSchema, runService } from "@herald/runtime";
import { startBus } from "@herald/bus";
import { createPublisher } from "./publisher.js";
import { createHeraldService } from "./herald-service.js";
import { startGrpcServer, unimplementedService } from "./grpc-server.js";
import { createGatewayMetrics } from "./metrics.js";
import { createBeforeHandler } from "./before.js";
import { applyConfigFileAndWatch } from "./config-file.js";
import { watchConfig } from "@herald/config";
import { createPresenceService } from "./presence-service.js";
import { createChatroomService } from "./chatroom-service.js";

const schema = baseEnvSchema.extend({
  GRPC_HOST: z.string().default("0.0.0.0"),
  GRPC_PORT: z.coerce.number().int().min(0).max(65535).default(50051),
  GRPC_MAX_MESSAGE_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(4 * 1024 * 1024),
  PUBLISH_MAX_BATCH: z.coerce.number().int().min(1).max(100_000).default(1000),
  PUBLISH_TIMEOUT_MS: z.coerce.number().int().min(100).default(5000),
  PUBLISH_STREAM_WINDOW: z.coerce.number().int().min(1).max(1024).default(16),
  HERALD_CONFIG: z.string().optional(),
  HERALD_CONFIG_POLL_MS: z.coerce.number().int().min(50).default(1000),
  BEFORE_ANSWER_MARGIN_MS: z.coerce.number().int().min(0).max(10_000).default(500),
});

await runService({
  name: "gateway",
  schema,
  async start({ config, log, registry }) {
    const bus = await startBus({ config, name: "herald-gateway", log });
    const configFile = config.HERALD_CONFIG
      ? await applyConfigFileAndWatch({
          file: config.HERALD_CONFIG,
          bus,
          log,
          pollMs: config.HERALD_CONFIG_POLL_MS,
        })
      : undefined;
    const view = await watchConfig(bus, log);
    const metrics = createGatewayMetrics(registry);
    const herald = createHeraldService({
      publish: createPublisher({
        bus,
        maxBatch: config.PUBLISH_MAX_BATCH,
        publishTimeoutMs: config.PUBLISH_TIMEOUT_MS,
      }),
      before: createBeforeHandler({
        bus,
        config: view,
        log,
        metrics,
        answerMarginMs: config.BEFORE_ANSWER_MARGIN_MS,
      }),
      log,
      metrics,
      streamWindow: config.PUBLISH_STREAM_WINDOW,
    });
    const grpc = await startGrpcServer({
      host: config.GRPC_HOST,
      port: config.GRPC_PORT,
      maxMessageBytes: config.GRPC_MAX_MESSAGE_BYTES,
      log,
      services: [
        { definition: HeraldServiceService, implementation: herald.service },
        { definition: PresenceServiceService, implementation: createPresenceService(bus, log) },
        { definition: ChatroomServiceService, implementation: createChatroomService(bus, log) },
        unimplementedService("DeliveryLogService", DeliveryLogServiceService),
      ],
    });
    log.info({ grpcAddress: grpc.address }, "grpc listening");
    return {
      checks: { nats: () => bus.isConnected() },
      shutdown: [
        {
          name: "grpc intake",
          run: async (signal) => {
            // Refuse new calls first, then end the open streams once their batches are answered.
            const closed = grpc.shutdown(signal);
            await herald.streams.endAll();
            await closed;
          },
        },
        {
          name: "config watch",
          run: async () => {
            configFile?.close();
            await view.close();
          },
        },
        { name: "nats drain", run: () => bus.drain() },
      ],
    };
  },
});

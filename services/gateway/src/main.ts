import {
  ChatroomServiceService,
  DeliveryLogServiceClient,
  DeliveryLogServiceService,
  HeraldServiceService,
  PresenceServiceService,
  heraldDescriptorSet,
} from "@herald/proto";
import { runService } from "@herald/runtime";
import { largestPayloadBytes, messageLimitBytes, startBus } from "@herald/bus";
import { createPublisher } from "./publisher.js";
import { createHeraldService } from "./herald-service.js";
import { grpcClientSecurity, grpcClientSetup, grpcServerSecurity, startGrpcServer } from "@herald/grpc";
import { createGatewayMetrics } from "./metrics.js";
import { createBeforeHandler } from "./before.js";
import { createKnownApps } from "./known-apps.js";
import { applyConfigFileAndWatch } from "./config-file.js";
import { watchConfig } from "@herald/config";
import { createPresenceService } from "./presence-service.js";
import { createChatroomService } from "./chatroom-service.js";
import { logStoreQueries, startAdminServer } from "@herald/admin";
import { forwardDeliveryLog, withoutLogStore } from "./delivery-log-service.js";
import { schema } from "./config.js";
import { createEvaluatorRuntime } from "@herald/evaluator/in-process";

await runService({
  name: "gateway",
  schema,
  async start({ config, log, registry, ready }) {
    // Bad certificate files stop the start before anything else is opened.
    const grpcSecurity = grpcServerSecurity(config);
    const logStoreSetup = grpcClientSetup(grpcClientSecurity(config, "LOGSTORE"));
    const bus = await startBus({ config, name: "herald-gateway", log });
    const configFile = config.HERALD_CONFIG
      ? await applyConfigFileAndWatch({
          file: config.HERALD_CONFIG,
          bus,
          log,
          pollMs: config.HERALD_CONFIG_POLL_MS,
          includeDirs: config.HERALD_CONFIG_INCLUDE_DIRS,
        })
      : undefined;
    const view = await watchConfig(bus, log);
    const metrics = createGatewayMetrics(registry);
    const knownApps = createKnownApps({ config: view, acceptUnknown: config.HERALD_ACCEPT_UNKNOWN_APPS });
    const localEvaluator =
      config.BEFORE_EVALUATION === "local"
        ? createEvaluatorRuntime({ bus, config: view, log, registry, env: config })
        : undefined;
    const publish = createPublisher({
      bus,
      maxBatch: config.PUBLISH_MAX_BATCH,
      publishTimeoutMs: config.PUBLISH_TIMEOUT_MS,
      knownApps,
    });
    const herald = createHeraldService({
      publish,
      before: createBeforeHandler({
        bus,
        knownApps,
        log,
        metrics,
        publish,
        answerMarginMs: config.BEFORE_ANSWER_MARGIN_MS,
        ...(localEvaluator === undefined ? {} : { local: localEvaluator.evaluate }),
      }),
      log,
      metrics,
      streamWindow: config.PUBLISH_STREAM_WINDOW,
    });
    // One channel to the log store serves the forwarded gRPC queries and the admin API's log routes.
    const logStoreClient =
      config.LOGSTORE_ADDRESS === undefined
        ? undefined
        : new DeliveryLogServiceClient(
            config.LOGSTORE_ADDRESS,
            logStoreSetup.credentials,
            logStoreSetup.options,
          );
    const grpc = await startGrpcServer({
      host: config.GRPC_HOST,
      port: config.GRPC_PORT,
      maxMessageBytes: config.GRPC_MAX_MESSAGE_BYTES,
      security: grpcSecurity,
      // gRPC health answers what /readyz answers; reflection describes the services below.
      ready,
      descriptorSet: heraldDescriptorSet(),
      log,
      services: [
        { definition: HeraldServiceService, implementation: herald.service },
        { definition: PresenceServiceService, implementation: createPresenceService(bus, log) },
        { definition: ChatroomServiceService, implementation: createChatroomService(bus, log) },
        {
          definition: DeliveryLogServiceService,
          implementation:
            logStoreClient === undefined
              ? withoutLogStore()
              : forwardDeliveryLog(logStoreClient, config.LOGSTORE_TIMEOUT_MS, log),
        },
      ],
    });
    log.info(
      {
        grpcAddress: grpc.address,
        // Per message (a whole Publish batch); each event and Before payload has the smaller limit.
        grpcMaxMessageBytes: config.GRPC_MAX_MESSAGE_BYTES,
        payloadLimitBytes: largestPayloadBytes(messageLimitBytes(bus)),
      },
      "grpc listening",
    );
    const logStore =
      logStoreClient === undefined ? undefined : logStoreQueries(logStoreClient, config.LOGSTORE_TIMEOUT_MS);
    const admin = await startAdminServer({
      host: config.ADMIN_HOST,
      port: config.ADMIN_PORT,
      bus,
      log,
      adminToken: config.ADMIN_TOKEN,
      logStore,
      allowLoopback: config.DELIVERY_ALLOW_LOOPBACK,
    });
    log.info({ adminUrl: admin.url, logStore: config.LOGSTORE_ADDRESS ?? null }, "admin API listening");
    return {
      checks: { nats: () => bus.isConnected() },
      shutdown: [
        {
          name: "admin api",
          run: async () => {
            // Requests in flight finish first: they may be writing CONFIG or asking the log store.
            await admin.close();
          },
        },
        {
          name: "grpc intake",
          run: async (signal) => {
            // Refuse new calls first, then end the open streams once their batches are answered.
            const closed = grpc.shutdown(signal);
            await herald.streams.endAll();
            await closed;
            logStoreClient?.close();
          },
        },
        {
          name: "config watch",
          run: async () => {
            configFile?.close();
            await view.close();
          },
        },
        { name: "attempt records in hand", run: () => Promise.resolve(localEvaluator?.flushRecords()) },
        { name: "nats drain", run: () => bus.drain() },
        { name: "http pools", run: async () => localEvaluator?.close() },
      ],
    };
  },
});

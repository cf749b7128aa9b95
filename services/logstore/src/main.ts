// The log store: writes attempt records (ATTEMPTS) and the event log (EVENTS) to Postgres in
// batches, keeps daily partitions within retention, and answers DeliveryLogService over gRPC.
import { runService } from "@herald/runtime";
import { isCopy, startBus } from "@herald/bus";
import { createPool, migrate, pingDatabase } from "@herald/db";
import { grpcServerSecurity, startGrpcServer } from "@herald/grpc";
import { DeliveryLogServiceService, heraldDescriptorSet } from "@herald/proto";
import { ingestMetrics, startIngest } from "./ingest.js";
import { createDeliveryLogService } from "./log-service.js";
import { maintainPartitions } from "./partitions.js";
import { attemptRows, eventRow } from "./records.js";
import { attemptWriter, eventWriter } from "./writer.js";
import { schema } from "./config.js";

await runService({
  name: "logstore",
  schema,
  async start({ config, log, registry, ready }) {
    // Bad certificate files stop the start before anything else is opened.
    const grpcSecurity = grpcServerSecurity(config);
    await migrate({ url: config.DATABASE_URL, log });
    const pool = createPool({
      url: config.DATABASE_URL,
      log,
      max: config.DATABASE_POOL_MAX,
      applicationName: "herald-logstore",
    });
    const maintain = () =>
      maintainPartitions(pool, log, {
        retentionDays: config.LOG_RETENTION_DAYS,
        aheadDays: config.LOG_PARTITION_AHEAD_DAYS,
      }).catch((err: unknown) => {
        // Rows still land (in DEFAULT) without today's partition; the next round tries again.
        log.error({ err }, "partition maintenance failed");
      });
    await maintain();
    const maintenance = setInterval(() => void maintain(), config.LOG_PARTITION_CHECK_MS);

    const bus = await startBus({ config, name: "herald-logstore", log });
    const metrics = ingestMetrics(registry);
    const batch = { batchMaxRows: config.LOG_BATCH_MAX_ROWS, batchLingerMs: config.LOG_BATCH_LINGER_MS };
    const attempts = startIngest({
      bus,
      log,
      metrics,
      table: "attempts",
      stream: bus.names.streams.attempts,
      filterSubject: bus.names.subjects.attempts(),
      durable: "logstore-attempts",
      toRows: attemptRows,
      write: attemptWriter(pool, log),
      ...batch,
    });
    const events = startIngest({
      bus,
      log,
      metrics,
      table: "events",
      stream: bus.names.streams.events,
      filterSubject: bus.names.subjects.events(),
      durable: "logstore-events",
      toRows: (data) => [eventRow(data)],
      skip: (d) => isCopy(d.headers),
      write: eventWriter(pool, log),
      ...batch,
    });

    const grpc = await startGrpcServer({
      host: config.GRPC_HOST,
      port: config.GRPC_PORT,
      security: grpcSecurity,
      // gRPC health answers what /readyz answers; reflection describes the services below.
      ready,
      descriptorSet: heraldDescriptorSet(),
      services: [
        { definition: DeliveryLogServiceService, implementation: createDeliveryLogService(pool, log) },
      ],
      log,
    });
    log.info({ grpcAddress: grpc.address }, "grpc listening");

    return {
      checks: { nats: () => bus.isConnected(), postgres: () => pingDatabase(pool) },
      shutdown: [
        {
          name: "stop consuming, commit the batches in hand",
          run: async (signal) => {
            await Promise.all([attempts.consumer.stop(signal), events.consumer.stop(signal)]);
            await Promise.all([attempts.batcher.flush(), events.batcher.flush()]);
          },
        },
        { name: "grpc queries", run: (signal) => grpc.shutdown(signal) },
        { name: "partition maintenance", run: () => Promise.resolve(clearInterval(maintenance)) },
        { name: "nats drain", run: () => bus.drain() },
        { name: "postgres pool", run: () => pool.end() },
      ],
    };
  },
});

// Event intake: gRPC Publish / PublishStream through the gateway, against raw JetStream
// publishes of the same bytes to the same stream (the floor), in one run.
import { PublishStreamRequest, type PublishStreamResponse } from "@herald/proto";
import { appScopedMsgId, eventSubject } from "@herald/bus";
import { startNats } from "@herald/testkit";
import { configureApps, heraldClient, onlineEvent, publish, startService, stopAll } from "@herald/e2e";
import { benchBus, storedEvent, type StoredEvent } from "./jetstream-floor.js";
import { ms, percentile, type Row } from "./stats.js";

const TOTAL = Number(process.env.BENCH_EVENTS ?? 40_000);
const BATCH = 100;
const WINDOW = 8; // batches in flight
const LATENCY_SAMPLES = 2_000;

export async function benchPublish(): Promise<Row[]> {
  const nats = await startNats({ source: "local" });
  const gateway = await startService("gateway", {
    NATS_URL: nats.url,
    HERALD_NAMESPACE: nats.namespace,
    LOG_LEVEL: "warn",
  });
  try {
    await gateway.waitReady();
    // The gateway takes events only for configured apps.
    await configureApps({ NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace }, ["bench"]);
    const bus = await benchBus(nats.url, nats.namespace);
    const client = heraldClient(gateway.grpcAddress);

    // The floor: the same encoded events, same subjects and msg ids, WINDOW*BATCH in flight.
    const rawEvents = (n: number) =>
      Array.from({ length: n }, () => storedEvent({ ...onlineEvent("bench"), occurredAt: new Date() }));
    const rawPublish = (e: StoredEvent) =>
      bus.js.publish(eventSubject(bus, e.event), e.data, {
        msgID: appScopedMsgId(e.event.appId, e.event.id),
      });

    const floorRate = await rate(TOTAL, async (n) => {
      const events = rawEvents(n);
      let next = 0;
      await Promise.all(
        Array.from({ length: WINDOW * BATCH }, async () => {
          while (next < events.length) await rawPublish(events[next++]!);
        }),
      );
    });

    const unaryRate = await rate(TOTAL, async (n) => {
      let sent = 0;
      await Promise.all(
        Array.from({ length: WINDOW }, async () => {
          while (sent < n) {
            sent += BATCH;
            await publish(
              client,
              Array.from({ length: BATCH }, () => onlineEvent("bench")),
            );
          }
        }),
      );
    });

    const streamRate = await rate(TOTAL, (n) => streamBatches(client, n));

    // Latency of one event at a time: gateway Publish against a raw publish.
    const floorLat: number[] = [];
    for (const e of rawEvents(LATENCY_SAMPLES)) {
      const t = process.hrtime.bigint();
      await rawPublish(e);
      floorLat.push(ms(process.hrtime.bigint() - t));
    }
    const heraldLat: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const t = process.hrtime.bigint();
      await publish(client, [onlineEvent("bench")]);
      heraldLat.push(ms(process.hrtime.bigint() - t));
    }

    client.close();
    await bus.drain();
    return [
      {
        name: `Publish, batches of ${BATCH}, ${WINDOW} in flight`,
        unit: "events/s",
        value: unaryRate,
        floor: floorRate,
      },
      {
        name: `PublishStream, batches of ${BATCH}, window ${WINDOW}`,
        unit: "events/s",
        value: streamRate,
        floor: floorRate,
      },
      {
        name: "one-event Publish latency p50",
        unit: "ms",
        value: percentile(heraldLat, 50),
        floor: percentile(floorLat, 50),
      },
      {
        name: "one-event Publish latency p99",
        unit: "ms",
        value: percentile(heraldLat, 99),
        floor: percentile(floorLat, 99),
      },
    ];
  } finally {
    await stopAll([gateway]);
    await nats.stop();
  }
}

async function rate(n: number, work: (n: number) => Promise<void>): Promise<number> {
  await work(Math.min(2_000, n)); // warm-up
  const t = process.hrtime.bigint();
  await work(n);
  return n / (ms(process.hrtime.bigint() - t) / 1000);
}

function streamBatches(client: ReturnType<typeof heraldClient>, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const call = client.publishStream();
    const batches = Math.ceil(n / BATCH);
    let sent = 0;
    let answered = 0;
    const send = () => {
      sent += 1;
      call.write(
        PublishStreamRequest.fromPartial({
          batchId: sent,
          events: Array.from({ length: BATCH }, () => onlineEvent("bench")),
        }),
      );
    };
    call.on("data", (res: PublishStreamResponse) => {
      if (res.error) return reject(new Error(res.error.message));
      answered += 1;
      if (sent < batches) send();
      else if (answered === batches) call.end();
    });
    call.on("end", resolve);
    call.on("error", reject);
    while (sent < Math.min(WINDOW, batches)) send();
  });
}

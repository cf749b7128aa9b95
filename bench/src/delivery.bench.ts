// Delivery end to end: gRPC Publish through the gateway, routed and sent by the deliverer (each its
// own process) to a business server in this process that answers 200 at once; against the floor of
// one process doing raw JetStream publish + consume and a direct undici POST per message to the
// same kind of server, in one run.
import { createServer, type Server } from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Agent, request } from "undici";
import { Event, type DeepPartial } from "@herald/proto";
import { appScopedMsgId, busNames, type BusNames } from "@herald/bus";
import { startNats } from "@herald/testkit";
import { heraldClient, publish, startService, stopAll, type ServiceProcess } from "@herald/e2e";
import { benchBus, consumeFloorEvents, publishStored, storedEvent } from "./jetstream-floor.js";
import { ms, percentile, type Row } from "./stats.js";

const TOTAL = Number(process.env.BENCH_DELIVERY_EVENTS ?? 20_000);
const BATCH = 100;
const WINDOW = 8; // Publish batches in flight
const LATENCY_EVENTS = Number(process.env.BENCH_DELIVERY_LATENCY_EVENTS ?? 5_000);
const LATENCY_BATCH = 10;
// The endpoint's requests in flight (Herald's default); the floor gets as many.
const CONCURRENCY = Number(process.env.BENCH_DELIVERY_CONCURRENCY ?? 16);
const SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
const FLOOR_DURABLE = "delivery-floor";

/** Counts distinct delivery ids as they arrive, and when each first arrived. */
interface BusinessServer {
  url: string;
  /** Resolves once `ids` have all arrived (each first arrival time kept in `arrivals`). */
  expect(ids: readonly string[]): Promise<void>;
  arrivals: Map<string, number>;
  close(): Promise<void>;
}

async function startBusinessServer(): Promise<BusinessServer> {
  const arrivals = new Map<string, number>();
  let waiting: { ids: Set<string>; done: () => void } | undefined;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const id = req.headers["herald-delivery-id"];
      if (typeof id === "string" && !arrivals.has(id)) {
        arrivals.set(id, performance.now());
        if (waiting?.ids.delete(id) && waiting.ids.size === 0) waiting.done();
      }
      res.writeHead(200).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("business server: no address");
  return {
    url: `http://127.0.0.1:${address.port}`,
    arrivals,
    expect(ids) {
      const left = new Set(ids.filter((id) => !arrivals.has(id)));
      if (left.size === 0) return Promise.resolve();
      return new Promise((resolve) => (waiting = { ids: left, done: resolve }));
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

let counter = 0;

/** A msg.sent event (which mqttchat and standard endpoints take by default) with a fresh id. */
function messageEvent(appId: string): DeepPartial<Event> & { id: string } {
  counter += 1;
  const now = new Date();
  return {
    id: `db-${process.pid}-${counter}`,
    appId,
    operationId: `op-${counter}`,
    occurredAt: now,
    payload: {
      $case: "messageSent",
      value: {
        messageId: String(counter),
        fromUserId: "1",
        toUserId: "2",
        content: `hello ${counter}`,
        type: 0,
        p1: "a",
        p2: "b",
        p3: "c",
        contentType: 101,
        sentAt: now,
      },
    },
  };
}

/** Herald's YAML (JSON is YAML) as the gateway applies it at start: one app per dialect. */
function configFile(businessUrl: string): string {
  const endpoint = (dialect: string, extra: object = {}) => ({
    url: `${businessUrl}/${dialect}`,
    dialect,
    concurrency: CONCURRENCY,
    ...extra,
  });
  return JSON.stringify({
    apps: {
      mq: { endpoints: { ep: endpoint("mqttchat") } },
      std: { endpoints: { ep: endpoint("standard", { secrets: [SECRET] }) } },
    },
  });
}

export async function benchDelivery(): Promise<Row[]> {
  const nats = await startNats({ source: "local" });
  const names = busNames(nats.namespace);
  const business = await startBusinessServer();
  const dir = await mkdtemp(path.join(tmpdir(), "herald-bench-delivery-"));
  const config = path.join(dir, "herald.yaml");
  await writeFile(config, configFile(business.url));
  const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace, LOG_LEVEL: "warn" };
  const services: ServiceProcess[] = [];
  const nc = await connect({ servers: nats.url });
  try {
    const gateway = await startService("gateway", { ...env, HERALD_CONFIG: config });
    services.push(gateway);
    await gateway.waitReady();
    // BENCH_DELIVERER_NODE_OPTIONS: NODE_OPTIONS for the deliverer alone, e.g. an --import that profiles.
    const nodeOptions = process.env.BENCH_DELIVERER_NODE_OPTIONS;
    const deliverer = await startService("deliverer", {
      ...env,
      DELIVERY_ALLOW_LOOPBACK: "true",
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
    });
    services.push(deliverer);
    await deliverer.waitReady();
    const jsm = await jetstreamManager(nc);
    await sendersReady(jsm, names, ["mq", "std"]);
    const client = heraldClient(gateway.grpcAddress);

    // The floor first, so the deliverer's processes sit idle meanwhile.
    const floor = await floorRate(nats.url, `${nats.namespace}floor`, business);

    const herald = async (appId: string, n: number): Promise<number> => {
      const events = Array.from({ length: n }, () => messageEvent(appId));
      const arrived = business.expect(events.map((e) => `${e.id}:ep`));
      const t = process.hrtime.bigint();
      let next = 0;
      await Promise.all(
        Array.from({ length: WINDOW }, async () => {
          while (next < events.length) {
            const batch = events.slice(next, next + BATCH);
            next += BATCH;
            await publish(client, batch);
          }
        }),
      );
      await arrived;
      return n / (ms(process.hrtime.bigint() - t) / 1000);
    };
    await herald("mq", Math.min(2_000, TOTAL)); // warm-up
    const mqRate = await herald("mq", TOTAL);
    const latencies = await paced(client, business, "mq", mqRate / 2);
    await herald("std", Math.min(2_000, TOTAL)); // warm-up
    const stdRate = await herald("std", TOTAL);
    client.close();

    return [
      {
        name: `mqttchat, Publish to 200, ${TOTAL} events`,
        unit: "events/s",
        value: mqRate,
        floor,
      },
      { name: `standard (signed), Publish to 200`, unit: "events/s", value: stdRate, floor },
      {
        name: `mqttchat latency p50 at ${Math.round(mqRate / 2)} events/s`,
        unit: "ms",
        value: percentile(latencies, 50),
      },
      {
        name: `mqttchat latency p99 at ${Math.round(mqRate / 2)} events/s`,
        unit: "ms",
        value: percentile(latencies, 99),
      },
    ];
  } finally {
    await nc.close();
    await stopAll(services);
    await business.close();
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Waits until the deliverer has created the fresh-lane consumer of each app's endpoint "ep". */
async function sendersReady(jsm: JetStreamManager, names: BusNames, appIds: string[]): Promise<void> {
  for (const appId of appIds) {
    const durable = `dl-${appId.length}-${appId}-ep`; // the deliverer's consumerName("fresh", ...)
    for (;;) {
      const info = await jsm.consumers.info(names.streams.deliveries, durable).catch(() => undefined);
      if (info !== undefined) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * Publish-to-200 latency at a steady rate: batches of LATENCY_BATCH on a fixed schedule (not waiting for
 * the previous answer), each event timed from just before its Publish call to its first arrival.
 */
async function paced(
  client: ReturnType<typeof heraldClient>,
  business: BusinessServer,
  appId: string,
  perSecond: number,
): Promise<number[]> {
  const sentAt = new Map<string, number>();
  const ids: string[] = [];
  const calls: Promise<unknown>[] = [];
  const intervalMs = (1000 * LATENCY_BATCH) / perSecond;
  const start = performance.now();
  for (let b = 0; b * LATENCY_BATCH < LATENCY_EVENTS; b++) {
    const due = start + b * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const events = Array.from({ length: LATENCY_BATCH }, () => messageEvent(appId));
    const t = performance.now();
    for (const e of events) {
      sentAt.set(`${e.id}:ep`, t);
      ids.push(`${e.id}:ep`);
    }
    calls.push(publish(client, events));
  }
  await Promise.all(calls);
  await business.expect(ids);
  return ids.map((id) => (business.arrivals.get(id) ?? NaN) - (sentAt.get(id) ?? NaN));
}

/**
 * The floor, in this one process: raw JetStream publishes into an EVENTS stream of its own namespace,
 * a durable pull consumer, and per message a direct undici POST (CONCURRENCY in flight, as many
 * connections) of a small JSON body to the business server, acked after its 200.
 */
async function floorRate(url: string, namespace: string, business: BusinessServer): Promise<number> {
  const floorBus = await benchBus(url, namespace);
  const messages = await consumeFloorEvents(floorBus, FLOOR_DURABLE, CONCURRENCY * 4);
  const agent = new Agent({ connections: CONCURRENCY });
  let inFlight = 0;
  let freed: (() => void) | undefined;
  const consuming = (async () => {
    for await (const m of messages) {
      while (inFlight >= CONCURRENCY) await new Promise<void>((resolve) => (freed = resolve));
      inFlight += 1;
      const id = m.headers?.get("Nats-Msg-Id") ?? "";
      const event = Event.decode(m.data);
      void request(`${business.url}/floor`, {
        method: "POST",
        dispatcher: agent,
        headers: { "content-type": "application/json", "herald-delivery-id": `${id}:ep` },
        body: JSON.stringify({ from_userid: 1, to_userid: 2, message: { id: event.id, message: "hello" } }),
      })
        .then(async (res) => {
          await res.body.dump();
          m.ack();
        })
        .catch(() => m.nak())
        .finally(() => {
          inFlight -= 1;
          freed?.();
          freed = undefined;
        });
    }
  })();

  const run = async (n: number): Promise<number> => {
    const events = Array.from({ length: n }, () => storedEvent(messageEvent("floor")));
    const arrived = business.expect(events.map((e) => `${appScopedMsgId("floor", e.event.id)}:ep`));
    const t = process.hrtime.bigint();
    await publishStored(floorBus, events);
    await arrived;
    return n / (ms(process.hrtime.bigint() - t) / 1000);
  };
  try {
    await run(Math.min(2_000, TOTAL)); // warm-up
    return await run(TOTAL);
  } finally {
    await messages.close();
    await consuming;
    await agent.close();
    await floorBus.drain();
  }
}

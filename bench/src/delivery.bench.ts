// Delivery end to end: gRPC Publish through the gateway, routed and sent by the deliverer (each its
// own process) to a business server in this process that answers 200 at once; against the floor of
// one process doing raw JetStream publish + consume and a direct undici POST per message to the
// same kind of server, in one run. Events are single-chat messages among KEYS conversations (keys);
// ordered delivery is timed against the floor and against the same load unordered, and checked.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Agent, request } from "undici";
import { Event } from "@herald/proto";
import { appScopedMsgId } from "@herald/bus";
import { startNats } from "@herald/testkit";
import { heraldClient, publish, startService, stopAll, type ServiceProcess } from "@herald/e2e";
import { startBusinessServer, within, type BusinessServer } from "./business-server.js";
import { deliver } from "./delivery-run.js";
import { benchBus, consumeFloorEvents, publishStored, storedEvent } from "./jetstream-floor.js";
import { KeyedEvents, seededRandom } from "./keyed-events.js";
import { ms, percentile, type Row } from "./stats.js";

const TOTAL = Number(process.env.BENCH_DELIVERY_EVENTS ?? 20_000);
const WARM_UP = Math.min(2_000, TOTAL);
// Timed runs per app, taking turns with the app it is compared with: TOTAL events over them all.
const ROUNDS = Number(process.env.BENCH_DELIVERY_ROUNDS ?? 4);
// Distinct conversations (ordering keys) the events are spread over, at random (seeded).
const KEYS = Number(process.env.BENCH_DELIVERY_KEYS ?? 1_000);
const HOT_EVENTS = Number(process.env.BENCH_DELIVERY_HOT_EVENTS ?? 2_000);
const RTT_SAMPLES = 1_000;
const LATENCY_EVENTS = Number(process.env.BENCH_DELIVERY_LATENCY_EVENTS ?? 5_000);
const LATENCY_BATCH = 10;
// The endpoint's requests in flight (Herald's default); the floor gets as many.
const CONCURRENCY = Number(process.env.BENCH_DELIVERY_CONCURRENCY ?? 16);
const SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
const FLOOR_DURABLE = "delivery-floor";
const READY_TIMEOUT_MS = 90_000;

// One app per case, each with one endpoint "ep".
const KEYED = "mqkey"; // mqttchat, ordering "key"
const UNORDERED = "mqnone"; // mqttchat, ordering "none": the same load without order
const STANDARD = "std"; // standard (signed): its default ordering, "none"
const HOT = "hot"; // mqttchat, ordering "key", every event in one conversation

/** Herald's YAML (JSON is YAML) as the gateway applies it at start. */
function configFile(businessUrl: string): string {
  const endpoint = (app: string, dialect: string, extra: object = {}) => ({
    ep: { url: `${businessUrl}/${app}`, dialect, concurrency: CONCURRENCY, ...extra },
  });
  return JSON.stringify({
    apps: {
      [KEYED]: { endpoints: endpoint(KEYED, "mqttchat", { ordering: "key" }) },
      [UNORDERED]: { endpoints: endpoint(UNORDERED, "mqttchat", { ordering: "none" }) },
      [STANDARD]: { endpoints: endpoint(STANDARD, "standard", { secrets: [SECRET] }) },
      [HOT]: { endpoints: endpoint(HOT, "mqttchat", { ordering: "key" }) },
    },
  });
}

export async function benchDelivery(): Promise<Row[]> {
  const nats = await startNats({ source: "local" });
  const business = await startBusinessServer();
  const dir = await mkdtemp(path.join(tmpdir(), "herald-bench-delivery-"));
  const config = path.join(dir, "herald.yaml");
  await writeFile(config, configFile(business.url));
  const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace, LOG_LEVEL: "warn" };
  const services: ServiceProcess[] = [];
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
    const client = heraldClient(gateway.grpcAddress);
    await deliveringTo(client, business, [KEYED, UNORDERED, STANDARD, HOT]);

    const floor = await startFloor(nats.url, `${nats.namespace}floor`, business);
    const random = seededRandom(14);
    const herald =
      (appId: string): TimedRun =>
      async (n) => {
        const keyed = new KeyedEvents();
        const events = Array.from({ length: n }, () => keyed.message(appId, Math.floor(random() * KEYS)));
        return deliver(client, business, keyed, events, ["ep"]);
      };
    const [floorRun, ordered, unordered, standard] = await inTurns([
      floor.run,
      herald(KEYED),
      herald(UNORDERED),
      herald(STANDARD),
    ]);
    await floor.close();
    if (!floorRun || !ordered || !unordered || !standard) throw new Error("a run is missing");
    const floorRate = floorRun.perSecond;
    const latencies = await paced(client, business, KEYED, ordered.perSecond / 2, random);

    // One hot key: its callbacks can only go one at a time, each after the previous one's answer.
    const hotKeyed = new KeyedEvents();
    const hotEvents = Array.from({ length: HOT_EVENTS }, () => hotKeyed.message(HOT, 0));
    const attemptsBefore = await attemptSeconds(deliverer);
    const hot = await deliver(client, business, hotKeyed, hotEvents, ["ep"]);
    const attemptsAfter = await attemptSeconds(deliverer);
    const delivererRttMs =
      (1000 * (attemptsAfter.sum - attemptsBefore.sum)) / (attemptsAfter.count - attemptsBefore.count);
    const directRttMs = await roundTripMs(business);
    client.close();

    const keysText = KEYS.toLocaleString("en-US");
    return [
      {
        name: `mqttchat ordering key, ${keysText} keys, Publish to 200, ${TOTAL} events`,
        unit: "events/s",
        value: ordered.perSecond,
        floor: floorRate,
      },
      {
        name: `mqttchat ordering none, the same load`,
        unit: "events/s",
        value: unordered.perSecond,
        floor: floorRate,
      },
      {
        name: `ordering key vs ordering none (floor column: none)`,
        unit: "events/s",
        value: ordered.perSecond,
        floor: unordered.perSecond,
      },
      { name: `out-of-order first deliveries, ordering key`, unit: "count", value: ordered.outOfOrder },
      { name: `out-of-order first deliveries, ordering none`, unit: "count", value: unordered.outOfOrder },
      {
        name: `standard (signed), Publish to 200`,
        unit: "events/s",
        value: standard.perSecond,
        floor: floorRate,
      },
      {
        name: `mqttchat key latency p50 at ${Math.round(ordered.perSecond / 2)} events/s`,
        unit: "ms",
        value: percentile(latencies, 50),
      },
      {
        name: `mqttchat key latency p99 at ${Math.round(ordered.perSecond / 2)} events/s`,
        unit: "ms",
        value: percentile(latencies, 99),
      },
      {
        name: `one hot key, ${HOT_EVENTS} events (floor: 1/RTT; ratio: rate x RTT)`,
        unit: "events/s",
        value: hot.perSecond,
        floor: 1000 / delivererRttMs,
      },
      { name: `  endpoint RTT, the deliverer's attempt time in that run`, unit: "ms", value: delivererRttMs },
      {
        name: `  endpoint RTT, sequential POSTs from the bench (ratio: rate x RTT)`,
        unit: "ms",
        value: directRttMs,
      },
      {
        name: `  one hot key vs 1/direct RTT`,
        unit: "events/s",
        value: hot.perSecond,
        floor: 1000 / directRttMs,
      },
      { name: `out-of-order first deliveries, hot key`, unit: "count", value: hot.outOfOrder },
    ];
  } finally {
    await stopAll(services);
    await business.close();
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Waits until each app's endpoint "ep" has had a callback: whatever consumers the deliverer makes,
 * it delivers to all of them now. A job stored before its consumer existed is delivered too.
 */
async function deliveringTo(
  client: ReturnType<typeof heraldClient>,
  business: BusinessServer,
  appIds: readonly string[],
): Promise<void> {
  const keyed = new KeyedEvents();
  const probes = appIds.map((appId) => keyed.message(appId, 0));
  await publish(client, probes);
  if (!(await within(business.expect(probes.map((e) => `${e.id}:ep`)), READY_TIMEOUT_MS))) {
    throw new Error(`the deliverer did not deliver to ${appIds.join(", ")} within ${READY_TIMEOUT_MS} ms`);
  }
}

/** The deliverer's herald_deliverer_attempt_seconds histogram (all dialects), from its /metrics. */
async function attemptSeconds(deliverer: ServiceProcess): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${deliverer.httpUrl}/metrics`)).text();
  const total = (series: string) =>
    text
      .split("\n")
      .filter((line) => line.startsWith(`herald_deliverer_attempt_seconds_${series}`))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
  return { sum: total("sum"), count: total("count") };
}

/** Mean time of a POST and its 200 from the bench to the business server, one at a time, keep-alive. */
async function roundTripMs(business: BusinessServer): Promise<number> {
  const agent = new Agent({ connections: 1 });
  const post = (i: number) =>
    request(`${business.url}/rtt`, {
      method: "POST",
      dispatcher: agent,
      headers: { "content-type": "application/json", "herald-delivery-id": `rtt-${process.pid}-${i}` },
      body: JSON.stringify({ from_userid: 1, to_userid: 2, message: { id: i, message: "hello" } }),
    }).then((res) => res.body.dump());
  try {
    for (let i = 0; i < 100; i++) await post(i); // warm-up
    const t = process.hrtime.bigint();
    for (let i = 0; i < RTT_SAMPLES; i++) await post(100 + i);
    return ms(process.hrtime.bigint() - t) / RTT_SAMPLES;
  } finally {
    await agent.close();
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
  random: () => number,
): Promise<number[]> {
  const keyed = new KeyedEvents();
  const sentAt = new Map<string, number>();
  const ids: string[] = [];
  const calls: Promise<unknown>[] = [];
  const intervalMs = (1000 * LATENCY_BATCH) / perSecond;
  const start = performance.now();
  for (let b = 0; b * LATENCY_BATCH < LATENCY_EVENTS; b++) {
    const due = start + b * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const events = Array.from({ length: LATENCY_BATCH }, () =>
      keyed.message(appId, Math.floor(random() * KEYS)),
    );
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

/** A timed run of n events: callbacks (one per event) per second, and how many came out of order. */
type TimedRun = (n: number) => Promise<{ delivered: number; seconds: number; outOfOrder: number }>;

/**
 * Each run warmed up, then ROUNDS rounds in which each run gets its turn with TOTAL / ROUNDS events:
 * a machine that gets busier meanwhile (others work on it too) weighs on all alike.
 */
async function inTurns(runs: readonly TimedRun[]): Promise<{ perSecond: number; outOfOrder: number }[]> {
  for (const run of runs) await run(WARM_UP);
  const sums = runs.map(() => ({ delivered: 0, seconds: 0, outOfOrder: 0 }));
  const turns = [...runs.keys()];
  for (let round = 0; round < ROUNDS; round++) {
    // Every other round backwards, so that no run always follows the same one.
    for (const i of round % 2 === 0 ? turns : [...turns].reverse()) {
      const run = runs[i];
      const sum = sums[i];
      if (run === undefined || sum === undefined) continue;
      const result = await run(Math.ceil(TOTAL / ROUNDS));
      sum.delivered += result.delivered;
      sum.seconds += result.seconds;
      sum.outOfOrder += result.outOfOrder;
    }
  }
  return sums.map((sum) => ({ perSecond: sum.delivered / sum.seconds, outOfOrder: sum.outOfOrder }));
}

/**
 * The floor, in this one process: raw JetStream publishes into an EVENTS stream of its own namespace,
 * a durable pull consumer, and per message a direct undici POST (CONCURRENCY in flight, as many
 * connections) of a small JSON body to the business server, acked after its 200.
 */
async function startFloor(
  url: string,
  namespace: string,
  business: BusinessServer,
): Promise<{ run: TimedRun; close(): Promise<void> }> {
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

  const keyed = new KeyedEvents();
  return {
    async run(n) {
      const events = Array.from({ length: n }, (_, i) => storedEvent(keyed.message("floor", i % KEYS)));
      const arrived = business.expect(events.map((e) => `${appScopedMsgId("floor", e.event.id)}:ep`));
      const t = process.hrtime.bigint();
      await publishStored(floorBus, events);
      await arrived;
      return { delivered: n, seconds: ms(process.hrtime.bigint() - t) / 1000, outOfOrder: 0 };
    },
    async close() {
      await messages.close();
      await consuming;
      await agent.close();
      await floorBus.drain();
    },
  };
}

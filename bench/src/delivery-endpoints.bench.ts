// Delivery over many endpoints: the same events to 10 endpoints (one app) and to 10,000 (1,000
// apps of 10), each case on a fresh nats-server, gateway and deliverer. What must not grow with the
// endpoints: the delivery rate, nats-server's memory and the JetStream consumers the deliverer keeps.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { busNames } from "@herald/bus";
import { startNats } from "@herald/testkit";
import { heraldClient, startService, stopAll, type ServiceProcess } from "@herald/e2e";
import { attemptOutcomes, type AttemptOutcomes } from "./attempt-outcomes.js";
import { startBusinessServer } from "./business-server.js";
import { deliver, type DeliveryRun } from "./delivery-run.js";
import { KeyedEvents, seededRandom } from "./keyed-events.js";
import { cpuMeter, natsServerPid, profiledEnv, profileToggle } from "./process-cpu.js";
import { residentMb } from "./process-memory.js";
import type { Row } from "./stats.js";

const APPS = Number(process.env.BENCH_ENDPOINTS_APPS ?? 1_000);
const PER_APP = Number(process.env.BENCH_ENDPOINTS_PER_APP ?? 10);
// Each event goes to every endpoint of its app: EVENTS x PER_APP callbacks in both cases.
const EVENTS = Number(process.env.BENCH_ENDPOINTS_EVENTS ?? 2_000);
const KEYS = Number(process.env.BENCH_DELIVERY_KEYS ?? 1_000);
// Bounds, since per-endpoint consumers may take very long to set up or never manage it.
const SETUP_TIMEOUT_MS = Number(process.env.BENCH_ENDPOINTS_SETUP_TIMEOUT_S ?? 90) * 1000;
const RUN_TIMEOUT_MS = Number(process.env.BENCH_ENDPOINTS_RUN_TIMEOUT_S ?? 60) * 1000;
const IDLE_WINDOW_MS = 5_000;
// The endpoints' timeoutMs when set (else Herald's default): to tell slow set-up from its retries.
const ENDPOINT_TIMEOUT_MS = process.env.BENCH_ENDPOINTS_TIMEOUT_MS;

interface FleetCase {
  apps: number;
  endpoints: number;
  configBytes: number;
  /** Gateway start to ready: reading the file and writing every app to CONFIG. */
  gatewaySeconds: number;
  /** Deliverer start to a first callback at every endpoint (one event per app), or to the deadline. */
  setupSeconds: number;
  setupDelivered: number;
  setupFinished: boolean;
  run: DeliveryRun | undefined;
  consumers: number;
  /** Of those, the consumers on EVENTS (the router's) and on DELIVERIES (the senders'). */
  eventsConsumers: number;
  deliveriesConsumers: number;
  /** Events stored in EVENTS, and of them not yet delivered to the EVENTS consumers (summed). */
  events: number;
  eventsPending: number;
  /** Jobs waiting in DELIVERIES (a work queue) at the end: stored by the router, not yet acknowledged. */
  jobs: number;
  attempts: AttemptOutcomes | undefined;
  /** Longest event-loop stall from set-up to the end of the run: of this process (the business server) and the deliverer. */
  benchLoopMaxMs: number;
  delivererLoopMaxMs: number;
  /** The business server's connections: accepted in all, and the most open at once. */
  connections: { accepted: number; peak: number };
  natsRssMb: number;
  natsPeakMb: number;
  delivererRssMb: number;
  /** nats-server CPU while nothing is published, in % of one core. */
  natsIdleCpuPercent: number;
  error?: string;
}

/** Herald's YAML (JSON is YAML): apps a0.. with endpoints e0.. (mqttchat, its defaults), each its own path. */
function configFile(businessUrl: string, apps: number): string {
  const app = (a: number) => ({
    endpoints: Object.fromEntries(
      Array.from({ length: PER_APP }, (_, e) => [
        `e${e}`,
        {
          url: `${businessUrl}/a${a}/e${e}`,
          dialect: "mqttchat",
          ...(ENDPOINT_TIMEOUT_MS === undefined ? {} : { timeoutMs: Number(ENDPOINT_TIMEOUT_MS) }),
        },
      ]),
    ),
  });
  return JSON.stringify({
    apps: Object.fromEntries(Array.from({ length: apps }, (_, a) => [`a${a}`, app(a)])),
  });
}

async function fleetCase(apps: number): Promise<FleetCase> {
  const nats = await startNats({ source: "local" });
  const natsPid = natsServerPid(nats.url);
  const business = await startBusinessServer();
  const dir = await mkdtemp(path.join(tmpdir(), "herald-bench-endpoints-"));
  const config = path.join(dir, "herald.yaml");
  const text = configFile(business.url, apps);
  await writeFile(config, text);
  const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace, LOG_LEVEL: "warn" };
  const services: ServiceProcess[] = [];
  const nc = await connect({ servers: nats.url });
  const endpointIds = Array.from({ length: PER_APP }, (_, e) => `e${e}`);
  const result: FleetCase = {
    apps,
    endpoints: apps * PER_APP,
    configBytes: Buffer.byteLength(text),
    gatewaySeconds: NaN,
    setupSeconds: NaN,
    setupDelivered: 0,
    setupFinished: false,
    run: undefined,
    consumers: NaN,
    eventsConsumers: NaN,
    deliveriesConsumers: NaN,
    events: NaN,
    eventsPending: NaN,
    jobs: NaN,
    attempts: undefined,
    benchLoopMaxMs: NaN,
    delivererLoopMaxMs: NaN,
    connections: business.connections,
    natsRssMb: NaN,
    natsPeakMb: NaN,
    delivererRssMb: NaN,
    natsIdleCpuPercent: NaN,
  };
  try {
    let t = Date.now();
    const gateway = await startService("gateway", { ...env, HERALD_CONFIG: config });
    services.push(gateway);
    await gateway.waitReady();
    result.gatewaySeconds = (Date.now() - t) / 1000;
    const client = heraldClient(gateway.grpcAddress);

    t = Date.now();
    const deliverer = await startService("deliverer", {
      ...env,
      DELIVERY_ALLOW_LOOPBACK: "true",
      ...profiledEnv(),
    });
    services.push(deliverer);
    await deliverer.waitReady();
    // With BENCH_PROFILE_DIR: the deliverer's CPU profile from set-up to the end of the run.
    profileToggle([deliverer]);
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    await delivererLoopMaxMs(deliverer); // a scrape resets the deliverer's figure
    const random = seededRandom(apps);
    const keyedRun = (n: number) => {
      const keyed = new KeyedEvents();
      const events = Array.from({ length: n }, (_, i) =>
        keyed.message(`a${i % apps}`, Math.floor(random() * KEYS)),
      );
      return { keyed, events };
    };
    const warm = keyedRun(apps);
    const setup = await deliver(client, business, warm.keyed, warm.events, endpointIds, SETUP_TIMEOUT_MS);
    result.setupSeconds = (Date.now() - t) / 1000;
    result.setupDelivered = setup.delivered;
    result.setupFinished = setup.finished;
    if (setup.finished) {
      const measured = keyedRun(EVENTS);
      result.run = await deliver(
        client,
        business,
        measured.keyed,
        measured.events,
        endpointIds,
        RUN_TIMEOUT_MS,
      );
    }
    profileToggle([deliverer]);
    loop.disable();
    result.benchLoopMaxMs = loop.max / 1e6;
    result.delivererLoopMaxMs = await delivererLoopMaxMs(deliverer);
    client.close();

    const jsm = await jetstreamManager(nc, { timeout: 30_000 });
    result.consumers = (await jsm.getAccountInfo()).consumers;
    const { streams } = busNames(nats.namespace);
    const events = (await jsm.streams.info(streams.events)).state;
    result.eventsConsumers = events.consumer_count;
    result.events = events.messages;
    result.eventsPending = 0;
    for await (const consumer of jsm.consumers.list(streams.events))
      result.eventsPending += consumer.num_pending;
    const deliveries = (await jsm.streams.info(streams.deliveries)).state;
    result.deliveriesConsumers = deliveries.consumer_count;
    result.jobs = deliveries.messages;
    result.attempts = await attemptOutcomes(nc, streams.attempts);
    const idle = cpuMeter([natsPid]);
    await new Promise((resolve) => setTimeout(resolve, IDLE_WINDOW_MS));
    result.natsIdleCpuPercent = ((idle()[0] ?? NaN) * 100_000) / IDLE_WINDOW_MS;
    const natsMemory = residentMb(natsPid);
    result.natsRssMb = natsMemory.rss;
    result.natsPeakMb = natsMemory.peak;
    result.delivererRssMb = residentMb(deliverer.child.pid).rss;
  } catch (err) {
    result.error = err instanceof Error ? err.message.split("\n")[0] : String(err);
  } finally {
    await nc.close().catch(() => undefined);
    await stopAll(services);
    await business.close();
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return result;
}

/** The deliverer's nodejs_eventloop_lag_max_seconds (prom-client: the most since its last scrape), in ms. */
async function delivererLoopMaxMs(deliverer: ServiceProcess): Promise<number> {
  const text = await (await fetch(`${deliverer.httpUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("nodejs_eventloop_lag_max_seconds"));
  return line === undefined ? NaN : 1000 * Number(line.slice(line.lastIndexOf(" ") + 1));
}

export async function benchDeliveryEndpoints(): Promise<Row[]> {
  const few = await fleetCase(1);
  const many = await fleetCase(APPS);
  const label = (c: FleetCase) =>
    `${c.endpoints.toLocaleString("en-US")} endpoints (${c.apps.toLocaleString("en-US")} app${c.apps === 1 ? "" : "s"})`;
  const rows: Row[] = [];
  for (const c of [few, many]) {
    const vs = c === many ? few : undefined;
    const setupNote = c.setupFinished ? "" : ` (NOT DONE: ${c.setupDelivered} of ${c.endpoints} callbacks)`;
    const runNote =
      c.run === undefined
        ? " (not run)"
        : c.run.finished
          ? ""
          : ` (NOT DONE: ${c.run.delivered} of ${c.run.expected})`;
    rows.push(
      {
        name: `${label(c)}: rate${runNote}`,
        unit: "callbacks/s",
        value: c.run?.perSecond ?? NaN,
        ...(vs === undefined ? {} : { floor: vs.run?.perSecond ?? NaN }),
      },
      { name: `  out-of-order first deliveries`, unit: "count", value: c.run?.outOfOrder ?? NaN },
      {
        name: `  gateway start to ready (config ${Math.round(c.configBytes / 1024)} KiB)`,
        unit: "s",
        value: c.gatewaySeconds,
      },
      {
        name: `  deliverer start to a callback at each endpoint${setupNote}`,
        unit: "s",
        value: c.setupSeconds,
        ...(vs === undefined ? {} : { floor: vs.setupSeconds }),
      },
      {
        name: `  JetStream consumers`,
        unit: "count",
        value: c.consumers,
        ...(vs === undefined ? {} : { floor: vs.consumers }),
      },
      { name: `    on EVENTS`, unit: "count", value: c.eventsConsumers },
      { name: `      events stored in EVENTS`, unit: "count", value: c.events },
      { name: `      not yet taken by them (num_pending, summed)`, unit: "count", value: c.eventsPending },
      { name: `    on DELIVERIES`, unit: "count", value: c.deliveriesConsumers },
      { name: `  jobs waiting in DELIVERIES at the end`, unit: "count", value: c.jobs },
      ...["delivered", "retry", "dead"].map((outcome) => ({
        name: `  attempts recorded ${outcome}`,
        unit: "count",
        // An outcome no attempt had is 0; NaN only when the attempts could not be read.
        value: c.attempts === undefined ? NaN : (c.attempts.byOutcome.get(outcome) ?? 0),
      })),
      ...(c.attempts?.topError === undefined
        ? []
        : [
            {
              name: `    most frequent error: ${c.attempts.topError.text}`,
              unit: "count",
              value: c.attempts.topError.count,
            },
          ]),
      {
        name: `  longest event-loop stall, bench process (business server)`,
        unit: "ms",
        value: c.benchLoopMaxMs,
      },
      { name: `  longest event-loop stall, deliverer`, unit: "ms", value: c.delivererLoopMaxMs },
      {
        name: `  business server connections accepted (most open at once: ${c.connections.peak})`,
        unit: "count",
        value: c.connections.accepted,
      },
      {
        name: `  nats-server RSS after the run (VmRSS)`,
        unit: "MB",
        value: c.natsRssMb,
        ...(vs === undefined ? {} : { floor: vs.natsRssMb }),
      },
      { name: `  nats-server peak RSS (VmHWM)`, unit: "MB", value: c.natsPeakMb },
      {
        name: `  nats-server CPU over 5 s after it, nothing published`,
        unit: "% core",
        value: c.natsIdleCpuPercent,
      },
      { name: `  deliverer RSS after the run`, unit: "MB", value: c.delivererRssMb },
    );
    if (c.error !== undefined) rows.push({ name: `  FAILED: ${c.error}`, unit: "", value: NaN });
  }
  return rows;
}

import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import { jetstreamManager, type JetStreamManager, type StreamInfo } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { busNames, connectBus, type Bus } from "@herald/bus";
import { putApp, type AppConfig } from "@herald/config";
import { PublishRequest, type DeepPartial, type Event, type HeraldServiceClient } from "@herald/proto";
import {
  startNatsCluster,
  startRecordingServer,
  waitFor,
  type ClusterServer,
  type NatsClusterFixture,
  type RecordingServer,
} from "@herald/testkit";
import { heraldClient } from "./grpc-client.js";
import { messageEvent, waitForConfig } from "./delivery-fixture.js";
import { startService, stopAll, type ServiceProcess } from "./harness.js";

// A JetStream cluster of three on loopback, Herald's streams with 3 replicas, and the leader of a
// stream killed mid-flow: no event whose Publish was acknowledged may be lost.

const APP = "clustered";
const ENDPOINT = "mq";
const BATCH = 10;
// About 100 events a second: a steady flow that two shared cores deliver without a growing backlog.
const PACE_MS = 100;
const names = busNames("");

let cluster: NatsClusterFixture;
let business: RecordingServer;
let gateway: ServiceProcess;
let deliverer: ServiceProcess;
let client: HeraldServiceClient;
let bus: Bus;
let nc: NatsConnection;
let jsm: JetStreamManager;
const services: ServiceProcess[] = [];

beforeAll(async () => {
  cluster = await startNatsCluster({ size: 3 });
  business = await startRecordingServer();
  const env = { NATS_URL: cluster.urls, STREAM_REPLICAS: "3", DELIVERY_ALLOW_LOOPBACK: "true" };
  gateway = await startService("gateway", env);
  deliverer = await startService("deliverer", env);
  services.push(gateway, deliverer);
  await Promise.all(services.map((s) => s.waitReady()));
  // The test's own connections list every server, so that they outlive any one of them.
  nc = await connect({ servers: cluster.servers.map((s) => s.url), maxReconnectAttempts: -1 });
  jsm = await jetstreamManager(nc);
  bus = await connectBus({
    servers: cluster.urls,
    name: "test-operator",
    log: pino({ level: "silent" }),
  });
  client = heraldClient(gateway.grpcAddress);
}, 120_000);

afterAll(async () => {
  client?.close();
  await nc?.close();
  await bus?.drain().catch(() => undefined);
  await stopAll(services);
  await business?.close();
  await cluster?.stop();
});

it("creates Herald's streams with 3 replicas on the cluster", async () => {
  for (const stream of [names.streams.events, names.streams.deliveries]) {
    const info = await waitFor(() => replicatedInfo(stream), {
      timeoutMs: 30_000,
      what: `${stream} with 3 current replicas`,
    });
    expect(info.config.num_replicas).toBe(3);
    expect(info.cluster?.name).toBe("herald-test");
    const members = [info.cluster?.leader, ...(info.cluster?.replicas ?? []).map((r) => r.name)];
    expect(members.sort()).toEqual(cluster.servers.map((s) => s.name).sort());
  }
});

it("delivers every acknowledged event across the kill of the stream leaders", async () => {
  const revision = await putApp(bus, {
    appId: APP,
    endpoints: [{ id: ENDPOINT, url: `${business.url}/mq`, dialect: "mqttchat" }],
  } as unknown as AppConfig);
  await waitForConfig([deliverer], revision);

  const publisher = startPublishing(client);
  try {
    await waitFor(() => business.requests.length >= 50, { timeoutMs: 60_000, what: "first deliveries" });

    // Phase 1: the leader of EVENTS, where the gateway's acknowledgements come from.
    const eventsLeader = await leaderOf(names.streams.events);
    const first = await killMidFlow(eventsLeader, publisher);
    // Phase 2: with every replica back, the leader of DELIVERIES (the deliverer's work queue).
    await restartAndCatchUp(eventsLeader);
    const deliveriesLeader = await leaderOf(names.streams.deliveries);
    const second = await killMidFlow(deliveriesLeader, publisher);
    await restartAndCatchUp(deliveriesLeader);

    await publisher.stop();
    const acked = publisher.acked;
    const deliveredIds = () => new Set(business.requests.map((r) => r.headers["herald-delivery-id"] ?? ""));
    const missing = () => {
      const delivered = deliveredIds();
      return [...acked].filter((id) => !delivered.has(`${id}:${ENDPOINT}`));
    };
    // Not failing here: the counts below are printed either way, and the assertion names the lost ids.
    await waitFor(() => missing().length === 0, { timeoutMs: 90_000, intervalMs: 500 }).catch(
      () => undefined,
    );

    const delivered = deliveredIds();
    const lost = missing();
    const duplicates = business.requests.length - delivered.size;
    const unacked = [...delivered].filter((d) => !acked.has(d.slice(0, -`:${ENDPOINT}`.length))).length;
    process.stdout.write(
      `cluster test: publish calls ${publisher.calls} (failed ${publisher.failedCalls}: ` +
        `${first.failedCalls} after the EVENTS leader ${eventsLeader.name} was killed, ` +
        `${second.failedCalls} after the DELIVERIES leader ${deliveriesLeader.name} was killed); ` +
        `events acknowledged ${acked.size} (${first.ackedAfter} and ${second.ackedAfter} after the kills); ` +
        `delivered ${delivered.size} distinct in ${business.requests.length} requests ` +
        `(duplicates ${duplicates}, delivered without an acknowledgement ${unacked}); ` +
        `deliveries after the kills ${first.deliveredAfter} and ${second.deliveredAfter}; ` +
        `first ack after the kills in ~${first.ackResumedMs} and ~${second.ackResumedMs} ms, ` +
        `first delivery of a later event in ~${first.deliveryResumedMs} and ~${second.deliveryResumedMs} ms; ` +
        `lost ${lost.length}\n`,
    );
    process.stdout.write(`deliverer warnings: ${summarize(notices(deliverer))}\n`);
    process.stdout.write(`gateway warnings: ${summarize(notices(gateway))}\n`);
    if (lost.length > 0) {
      process.stdout.write(
        `deliverer warnings and errors (last 40):\n${notices(deliverer).slice(-40).join("\n")}\n`,
      );
    }
    // The count first, so that a failure says how many before naming a few.
    expect({ lost: lost.length, firstLost: lost.slice(0, 5) }).toEqual({ lost: 0, firstLost: [] });
    // Delivery resumed on its own: events acknowledged after each kill reached the business server.
    expect(first.ackedAfter).toBeGreaterThan(0);
    expect(second.ackedAfter).toBeGreaterThan(0);
    expect(first.deliveredAfter).toBeGreaterThan(0);
    expect(second.deliveredAfter).toBeGreaterThan(0);
  } finally {
    await publisher.stop();
  }
}, 480_000);

// NATS_URL is a comma-separated list: a service must reach the cluster through any server of it, not
// only the last (nats.js reads one string as one server, so connectBus splits the list).
it("connects through NATS_URL when the last server of the list is down", async () => {
  const last = cluster.servers.at(-1)!;
  await last.kill("SIGKILL");
  try {
    const probe = await connectBus({
      servers: cluster.urls,
      name: "test-url-list",
      log: pino({ level: "silent" }),
      connectTimeoutMs: 5_000,
    });
    await probe.drain();
  } finally {
    await last.start();
  }
}, 60_000);

/** A service's log lines above info (pino levels: 40 warn, 50 error, 60 fatal). */
function notices(service: ServiceProcess): string[] {
  return service.lines.filter((line) => /"level":"(warn|error|fatal)"|"level":[456]0/.test(line));
}

/** "<count>× <msg>" per distinct pino msg, for a one-line account of what the services went through. */
function summarize(lines: string[]): string {
  const counts = new Map<string, number>();
  for (const line of lines) {
    const msg = /"msg":"([^"]*)"/.exec(line)?.[1] ?? line.slice(0, 80);
    counts.set(msg, (counts.get(msg) ?? 0) + 1);
  }
  return [...counts].map(([msg, count]) => `${count}× ${msg}`).join("; ") || "none";
}

/** Counts around one kill: calls that failed while a new leader was elected, and the flow after it. */
interface KillReport {
  failedCalls: number;
  ackedAfter: number;
  deliveredAfter: number;
  /** From the kill to the first acknowledged Publish, and to the first delivery of an event acknowledged after it. */
  ackResumedMs: number;
  deliveryResumedMs: number;
}

async function killMidFlow(server: ClusterServer, publisher: Publisher): Promise<KillReport> {
  const failedBefore = publisher.failedCalls;
  const ackedBefore = publisher.acked.size;
  const requestsBefore = business.requests.length;
  const killedAt = Date.now();
  await server.kill("SIGKILL");
  const ackedAtKill = new Set(publisher.acked);
  let firstAckAt = 0;
  const ackedAfterKill = () => {
    const count = publisher.acked.size - ackedBefore;
    if (count > 0 && firstAckAt === 0) firstAckAt = Date.now();
    return count;
  };
  // Deliveries of events acknowledged after the kill, i.e. stored under the new leader.
  const deliveredAfterKill = () =>
    business.requests.filter((r) => {
      const id = (r.headers["herald-delivery-id"] ?? "").split(":")[0] ?? "";
      return publisher.acked.has(id) && !ackedAtKill.has(id);
    });
  try {
    await waitFor(() => ackedAfterKill() >= 200 && deliveredAfterKill().length >= 100, {
      // A pull whose consumer leader died is noticed by missed idle heartbeats (tens of seconds).
      timeoutMs: 120_000,
      intervalMs: 100,
      what: `publishing and delivery to resume after ${server.name} was killed`,
    });
  } catch (err) {
    process.stdout.write(
      `after killing ${server.name}: acknowledged ${ackedAfterKill()}, delivered ${deliveredAfterKill().length} ` +
        `of those; deliverer warnings: ${summarize(notices(deliverer))}\n` +
        `deliverer log tail:\n${deliverer.lines.slice(-25).join("\n")}\n`,
    );
    throw err;
  }
  const firstDelivery = Math.min(...deliveredAfterKill().map((r) => r.receivedAt));
  return {
    failedCalls: publisher.failedCalls - failedBefore,
    ackedAfter: publisher.acked.size - ackedBefore,
    deliveredAfter: business.requests.length - requestsBefore,
    ackResumedMs: firstAckAt - killedAt,
    deliveryResumedMs: firstDelivery - killedAt,
  };
}

/** Starts the killed server again and waits until every stream replica on it is current. */
async function restartAndCatchUp(server: ClusterServer): Promise<void> {
  await server.start();
  for (const stream of [names.streams.events, names.streams.deliveries]) {
    await waitFor(() => replicatedInfo(stream), {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: `${stream} to have 3 current replicas after ${server.name} restarted`,
    });
  }
}

async function leaderOf(stream: string): Promise<ClusterServer> {
  const leader = await waitFor(async () => (await jsm.streams.info(stream)).cluster?.leader, {
    timeoutMs: 30_000,
    what: `a leader of ${stream}`,
  });
  return cluster.server(leader);
}

/** The stream's info once it has a leader and every other replica is current; else undefined. */
async function replicatedInfo(stream: string): Promise<StreamInfo | undefined> {
  const info = await jsm.streams.info(stream);
  const replicas = info.cluster?.replicas ?? [];
  const ready =
    info.cluster?.leader !== undefined &&
    replicas.length === cluster.servers.length - 1 &&
    replicas.every((r) => r.current && r.offline !== true);
  return ready ? info : undefined;
}

interface Publisher {
  /** Ids of events whose Publish call succeeded. */
  readonly acked: Set<string>;
  readonly calls: number;
  readonly failedCalls: number;
  stop(): Promise<void>;
}

/**
 * Publishes batches of BATCH events back to back. A failed call is sent again with the same ids
 * (the gateway's Nats-Msg-Id deduplicates) until it succeeds; only a succeeded call's ids count.
 */
function startPublishing(heraldService: HeraldServiceClient): Publisher {
  const acked = new Set<string>();
  let calls = 0;
  let failedCalls = 0;
  let stopped = false;
  const loop = (async () => {
    let batch: DeepPartial<Event>[] = [];
    while (!stopped) {
      if (batch.length === 0) batch = Array.from({ length: BATCH }, () => messageEvent(APP));
      calls += 1;
      try {
        await publishWithDeadline(heraldService, batch, 15_000);
        for (const event of batch) acked.add(event.id ?? "");
        batch = [];
        await sleep(PACE_MS);
      } catch {
        failedCalls += 1;
        await sleep(200);
      }
    }
  })();
  return {
    acked,
    get calls() {
      return calls;
    },
    get failedCalls() {
      return failedCalls;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

function publishWithDeadline(
  heraldService: HeraldServiceClient,
  events: DeepPartial<Event>[],
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve, reject) =>
    heraldService.publish(
      PublishRequest.fromPartial({ events }),
      new Metadata(),
      { deadline: new Date(Date.now() + timeoutMs) },
      (err: ServiceError | null) => (err ? reject(err) : resolve()),
    ),
  );
}

// Presence folding: connection events stored straight into EVENTS (lane conn, the user's partition)
// and folded by presence service processes on the projection kit, until every partition's
// checkpoint covers its last event; against the floor of a plain durable consumer that only acks
// the same messages, in one run. With one replica and with two, the CPU each replica spent, and a
// node.reset of a node holding many connections.
import { randomUUID } from "node:crypto";
import { OfflineReason, type DeepPartial, type Event } from "@herald/proto";
import type { Bus } from "@herald/bus";
import { PRESENCE_PROJECTION } from "@herald/presence";
import type { ProjectionAddress } from "@herald/projection";
import { startNats } from "@herald/testkit";
import { startService, stopAll, type ServiceProcess } from "@herald/e2e";
import {
  ackedAll,
  benchBus,
  FLOOR_DURABLE,
  publishStored,
  secondsUntil,
  startAckingFloor,
  storedEvent,
  type StoredEvent,
} from "./jetstream-floor.js";
import { checkpointsCover, ownersSettled } from "./projection-progress.js";
import { cpuMeter, natsServerPid, profiledEnv, profileToggle } from "./process-cpu.js";
import { ms, type Row } from "./stats.js";

const TOTAL = Number(process.env.BENCH_PRESENCE_EVENTS ?? 20_000);
const WARM_UP = Math.min(2_000, TOTAL);
const RESET_CONNECTIONS = Number(process.env.BENCH_RESET_CONNECTIONS ?? 100_000);
const APP = "bench";
// The node.reset run has an app of its own, so that its user.offline are counted alone.
const RESET_APP = "benchreset";
const NODES = 8;

/** A run's ids: users look like OpenIM's (ten digits), connections and events like the chat core's. */
function runIds(): { user(i: number): string } {
  const prefix = String(1000 + Math.floor(Math.random() * 9000));
  return { user: (i) => `${prefix}${String(i).padStart(6, "0")}` };
}

function online(
  appId: string,
  userId: string,
  connId: string,
  nodeId: string,
  i: number,
): DeepPartial<Event> {
  return {
    id: randomUUID(),
    appId,
    operationId: randomUUID(),
    occurredAt: new Date(),
    payload: {
      $case: "connectionOnline",
      value: {
        userId,
        connId,
        platformId: 1 + (i % 9),
        nodeId,
        clientIp: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      },
    },
  };
}

/** `n` events over n/2 users: each user comes online, then (after every user did) goes offline. */
function connectionEvents(n: number): StoredEvent[] {
  const ids = runIds();
  const users = Array.from({ length: Math.ceil(n / 2) }, (_, i) => ({
    userId: ids.user(i),
    connId: randomUUID(),
    nodeId: `chat-core-${i % NODES}`,
  }));
  const onlines = users.map((u, i) => storedEvent(online(APP, u.userId, u.connId, u.nodeId, i)));
  const offlines = users.map((u) =>
    storedEvent({
      id: randomUUID(),
      appId: APP,
      operationId: randomUUID(),
      occurredAt: new Date(),
      payload: {
        $case: "connectionOffline",
        value: { userId: u.userId, connId: u.connId, reason: OfflineReason.OFFLINE_REASON_LOGOUT },
      },
    }),
  );
  return [...onlines, ...offlines].slice(0, n);
}

interface RunFigures {
  rate: number;
  /** CPU seconds per 1,000 events of each presence replica, then of nats-server. */
  cpuPer1000: { replicas: number[]; nats: number };
}

export async function benchPresence(): Promise<Row[]> {
  const nats = await startNats({ source: "local" });
  const bus = await benchBus(nats.url, nats.namespace);
  // The floor lives in its own namespace, so the presence service never sees its events.
  const floorBus = await benchBus(nats.url, `${nats.namespace}floor`);
  const natsPid = natsServerPid(nats.url);
  const projection: ProjectionAddress = {
    name: PRESENCE_PROJECTION,
    lane: "conn",
    bucket: bus.names.buckets.presence,
  };
  const env = {
    NATS_URL: nats.url,
    HERALD_NAMESPACE: nats.namespace,
    LOG_LEVEL: "warn",
    ...(process.env.BENCH_PROJECTION_BATCH === undefined
      ? {}
      : { PROJECTION_BATCH: process.env.BENCH_PROJECTION_BATCH }),
    ...profiledEnv(),
  };
  const replicas: ServiceProcess[] = [];
  try {
    // The floor first, while no service runs beside it.
    const floorConsumer = await startAckingFloor(floorBus);
    const floorRun = async (n: number) => {
      const meter = cpuMeter([natsPid]);
      const seconds = await secondsUntil(floorBus, connectionEvents(n), () =>
        ackedAll(floorBus, FLOOR_DURABLE),
      );
      return { rate: n / seconds, natsCpu: meter()[0] ?? NaN };
    };
    await floorRun(WARM_UP);
    const floor = await floorRun(TOTAL);
    await floorConsumer.stop();

    const heraldRun = async (n: number): Promise<RunFigures> => {
      const profiled = n === TOTAL;
      if (profiled) profileToggle(replicas);
      const meter = cpuMeter([...replicas.map((r) => r.child.pid), natsPid]);
      const seconds = await secondsUntil(bus, connectionEvents(n), (last) =>
        checkpointsCover(bus, projection, last),
      );
      if (profiled) profileToggle(replicas);
      const cpu = meter().map((s) => (s * 1000) / n);
      return { rate: n / seconds, cpuPer1000: { replicas: cpu.slice(0, -1), nats: cpu.at(-1) ?? NaN } };
    };
    const addReplica = async () => {
      const replica = await startService("presence", env);
      replicas.push(replica);
      await replica.waitReady();
      await ownersSettled(bus, projection, replicas.length);
      await heraldRun(WARM_UP); // every partition loaded and consuming
    };

    await addReplica();
    const one = await heraldRun(TOTAL);
    const reset = RESET_CONNECTIONS > 0 ? await nodeReset(bus, projection, RESET_CONNECTIONS) : undefined;
    await addReplica();
    const two = await heraldRun(TOTAL);

    const cpuMs = (s: number) => s * 1000;
    const rows: Row[] = [
      {
        name: `presence, 1 replica: connection events folded (${TOTAL}, ${TOTAL / 2} users)`,
        unit: "events/s",
        value: one.rate,
        floor: floor.rate,
      },
      {
        name: "presence, 2 replicas: connection events folded",
        unit: "events/s",
        value: two.rate,
        floor: floor.rate,
      },
      {
        name: "presence CPU per 1,000 events, 1 replica",
        unit: "ms",
        value: cpuMs(one.cpuPer1000.replicas[0] ?? NaN),
      },
      ...two.cpuPer1000.replicas.map((s, i) => ({
        name: `presence CPU per 1,000 events, 2 replicas: replica ${i + 1}`,
        unit: "ms",
        value: cpuMs(s),
      })),
      {
        name: "nats-server CPU per 1,000 events, 1 replica (vs floor)",
        unit: "ms",
        value: cpuMs(one.cpuPer1000.nats),
        floor: cpuMs((floor.natsCpu * 1000) / TOTAL),
      },
      {
        name: "nats-server CPU per 1,000 events, 2 replicas (vs floor)",
        unit: "ms",
        value: cpuMs(two.cpuPer1000.nats),
        floor: cpuMs((floor.natsCpu * 1000) / TOTAL),
      },
    ];
    if (reset !== undefined) {
      rows.push(
        {
          name: `node.reset of ${RESET_CONNECTIONS} connections: every user.offline stored`,
          unit: "s",
          value: reset.seconds,
        },
        {
          name: "node.reset: user.offline stored (vs presence floor)",
          unit: "events/s",
          value: RESET_CONNECTIONS / reset.seconds,
          floor: floor.rate,
        },
      );
    }
    return rows;
  } finally {
    reportWarnings(replicas);
    await stopAll(replicas);
    await bus.drain();
    await floorBus.drain();
    await nats.stop();
  }
}

/**
 * `connections` users online on one node (stored and folded, not timed), then one node.reset of
 * that node (stored in every partition): seconds until every user's user.offline is stored.
 */
async function nodeReset(
  bus: Bus,
  projection: ProjectionAddress,
  connections: number,
): Promise<{ seconds: number }> {
  const ids = runIds();
  const nodeId = "chat-core-reset";
  const onlines = Array.from({ length: connections }, (_, i) =>
    storedEvent(online(RESET_APP, ids.user(i), randomUUID(), nodeId, i)),
  );
  await checkpointsCover(bus, projection, await publishStored(bus, onlines));
  const reset = storedEvent({
    id: randomUUID(),
    appId: RESET_APP,
    operationId: randomUUID(),
    occurredAt: new Date(),
    payload: { $case: "nodeReset", value: { nodeId } },
  });
  const t = process.hrtime.bigint();
  const last = await publishStored(bus, [reset]);
  await offlinesStored(bus, connections);
  const seconds = ms(process.hrtime.bigint() - t) / 1000;
  // Settled before the next run, so that it measures only its own events.
  await checkpointsCover(bus, projection, last);
  return { seconds };
}

/** Resolves once `count` user.offline of RESET_APP are stored (any partition of lane user). */
async function offlinesStored(bus: Bus, count: number): Promise<void> {
  const jsm = await bus.jsm();
  for (;;) {
    const info = await jsm.streams.info(bus.names.streams.events, {
      subjects_filter: bus.names.subjects.lane("user"),
    });
    let stored = 0;
    for (const [subject, n] of Object.entries(info.state.subjects ?? {})) {
      const at = bus.names.subjects.parseEvent(subject);
      if (at?.appId === RESET_APP && at.type === "user.offline") stored += n;
    }
    if (stored >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** What the replicas logged (LOG_LEVEL warn: warnings and errors), summed by message, on stderr. */
function reportWarnings(replicas: readonly ServiceProcess[]): void {
  const counts = new Map<string, number>();
  for (const line of replicas.flatMap((r) => r.lines)) {
    let msg = line;
    try {
      const entry = JSON.parse(line) as { msg?: string; reason?: string; err?: { message?: string } };
      msg = [entry.msg, entry.reason, entry.err?.message].filter(Boolean).join(": ") || line;
    } catch {
      // Not a log line: counted as written.
    }
    counts.set(msg, (counts.get(msg) ?? 0) + 1);
  }
  for (const [msg, n] of counts) console.error(`presence logged ${n}x: ${msg.slice(0, 200)}`);
}

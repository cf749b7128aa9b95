// Presence folding: connection events stored straight into EVENTS and folded by the presence
// service (KV compare-and-set, derived user.* events), against the floor of a plain durable
// consumer that only acks the same messages, in one run.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Event, OfflineReason } from "@herald/proto";
import { busNames } from "@herald/bus";
import { startNats } from "@herald/testkit";
import { startService, stopAll } from "@herald/e2e";
import { FLOOR_DURABLE, secondsUntilAcked, startAckingFloor, type StoredEvent } from "./jetstream-floor.js";
import type { Row } from "./stats.js";

const TOTAL = Number(process.env.BENCH_PRESENCE_EVENTS ?? 20_000);
const APP = "bench";
// The presence service's durable for connection events (see @herald/presence presenceDurables).
const PRESENCE_DURABLE = "presence-conn";

/** One online then one offline per user: every event changes the user's status. */
function connectionEvents(n: number): StoredEvent[] {
  const users = Math.ceil(n / 2);
  const out: StoredEvent[] = [];
  const stamp = `${process.pid}-${Date.now()}`;
  for (const phase of ["online", "offline"] as const) {
    for (let u = 0; u < users && out.length < n; u++) {
      const userId = `user-${u}`;
      const id = `pb-${stamp}-${phase}-${u}`;
      const connId = `c-${u}`;
      const event =
        phase === "online"
          ? Event.fromPartial({
              id,
              appId: APP,
              occurredAt: new Date(),
              type: "conn.online",
              payload: {
                $case: "connectionOnline",
                value: { userId, connId, platformId: 5, nodeId: "core-1" },
              },
            })
          : Event.fromPartial({
              id,
              appId: APP,
              occurredAt: new Date(),
              type: "conn.offline",
              payload: {
                $case: "connectionOffline",
                value: { userId, connId, reason: OfflineReason.OFFLINE_REASON_LOGOUT },
              },
            });
      out.push({
        id,
        type: phase === "online" ? "conn.online" : "conn.offline",
        data: Event.encode(event).finish(),
      });
    }
  }
  return out;
}

export async function benchPresence(): Promise<Row[]> {
  const nats = await startNats({ source: "local" });
  const names = busNames(nats.namespace);
  // The floor lives in its own namespace, so the presence service never sees its events.
  const floorNames = busNames(`${nats.namespace}floor`);
  const presence = await startService("presence", {
    NATS_URL: nats.url,
    HERALD_NAMESPACE: nats.namespace,
    LOG_LEVEL: "warn",
    PRESENCE_CONCURRENCY: process.env.BENCH_PRESENCE_CONCURRENCY ?? "256",
  });
  const nc = await connect({ servers: nats.url });
  try {
    await presence.waitReady();
    const jsm = await jetstreamManager(nc);
    const rate = async (n: number, durable: string, into: typeof names) =>
      n / (await secondsUntilAcked(nc, jsm, into, APP, durable, connectionEvents(n)));
    const floorConsumer = await startAckingFloor(nc, jsm, floorNames);
    await rate(Math.min(2_000, TOTAL), FLOOR_DURABLE, floorNames); // warm-up
    const floor = await rate(TOTAL, FLOOR_DURABLE, floorNames);
    await floorConsumer.stop();

    await rate(Math.min(2_000, TOTAL), PRESENCE_DURABLE, names); // warm-up
    const herald = await rate(TOTAL, PRESENCE_DURABLE, names);
    return [
      {
        name: `presence: connection events folded (${TOTAL}, online+offline per user)`,
        unit: "events/s",
        value: herald,
        floor,
      },
    ];
  } finally {
    await nc.close();
    await stopAll([presence]);
    await nats.stop();
  }
}

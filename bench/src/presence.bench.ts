// Presence folding: connection events stored straight into EVENTS and folded by the presence
// service (KV compare-and-set, derived user.* events), against the floor of a plain durable
// consumer that only acks the same messages, in one run.
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { headers } from "@nats-io/nats-core";
import { Event, OfflineReason } from "@herald/proto";
import { busNames, streamConfigs, type BusNames } from "@herald/bus";
import { startNats } from "@herald/testkit";
import { startService, stopAll } from "@herald/e2e";
import { ms, type Row } from "./stats.js";

const TOTAL = Number(process.env.BENCH_PRESENCE_EVENTS ?? 20_000);
const IN_FLIGHT = 512; // publishes awaiting their ack
const APP = "bench";
// The presence service's durable for connection events (see @herald/presence presenceDurables).
const PRESENCE_DURABLE = "presence-conn";
const FLOOR_DURABLE = "floor";

/** One online then one offline per user: every event changes the user's status. */
function connectionEvents(n: number): { id: string; subject: string; data: Uint8Array }[] {
  const users = Math.ceil(n / 2);
  const out: { id: string; subject: string; data: Uint8Array }[] = [];
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
        subject: phase === "online" ? "conn.online" : "conn.offline",
        data: Event.encode(event).finish(),
      });
    }
  }
  return out;
}

async function publishAll(nc: NatsConnection, names: BusNames, n: number): Promise<void> {
  const js = jetstream(nc);
  const events = connectionEvents(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < events.length) {
        const e = events[next++];
        if (e === undefined) break;
        const h = headers();
        h.set("Nats-Msg-Id", e.id);
        await js.publish(names.subjects.event(APP, e.subject), e.data, { headers: h });
      }
    }),
  );
}

/** Resolves once the durable has acknowledged everything stored for it. */
async function acked(jsm: JetStreamManager, stream: string, durable: string): Promise<void> {
  for (;;) {
    const info = await jsm.consumers.info(stream, durable).catch(() => undefined);
    if (info !== undefined && info.num_pending === 0 && info.num_ack_pending === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Events per second from the first publish until the durable has acked all of them. */
async function measure(
  n: number,
  nc: NatsConnection,
  names: BusNames,
  durable: string,
  jsm: JetStreamManager,
): Promise<number> {
  const t = process.hrtime.bigint();
  await publishAll(nc, names, n);
  await acked(jsm, names.streams.events, durable);
  return n / (ms(process.hrtime.bigint() - t) / 1000);
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
    const floorStream = streamConfigs(floorNames, { replicas: 1 }).find(
      (s) => s.name === floorNames.streams.events,
    );
    if (floorStream === undefined) throw new Error("no EVENTS stream declared");
    await jsm.streams.add(floorStream);

    // The floor: a plain durable pull consumer that acks each message, consuming while we publish.
    await jsm.consumers.add(floorNames.streams.events, {
      durable_name: FLOOR_DURABLE,
      ack_policy: AckPolicy.Explicit,
      filter_subject: floorNames.subjects.events(),
      max_ack_pending: 1000,
    });
    const floorMessages = await (
      await jetstream(nc).consumers.get(floorNames.streams.events, FLOOR_DURABLE)
    ).consume({ max_messages: 1000 });
    void (async () => {
      for await (const m of floorMessages) m.ack();
    })();
    await measure(Math.min(2_000, TOTAL), nc, floorNames, FLOOR_DURABLE, jsm); // warm-up
    const floor = await measure(TOTAL, nc, floorNames, FLOOR_DURABLE, jsm);
    await floorMessages.close();

    await measure(Math.min(2_000, TOTAL), nc, names, PRESENCE_DURABLE, jsm); // warm-up
    const herald = await measure(TOTAL, nc, names, PRESENCE_DURABLE, jsm);
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

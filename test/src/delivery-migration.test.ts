import { afterEach, expect, it } from "vitest";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { JetStreamManager } from "@nats-io/jetstream";
import { appScopedMsgId, type AttemptRecord } from "@herald/bus";
import { putApp } from "@herald/config";
import { partitionsBehind, readCheckpoints } from "@herald/projection";
import { Event, deliveryKey } from "@herald/proto";
import { heraldDeliveryIds, parseMqttChat } from "@herald/receiver";
import { startRecordingServer, waitFor, type RecordingServer } from "@herald/testkit";
import { publish } from "./grpc-client.js";
import { attemptRecords, messageEvent, startDeliveryStack, type DeliveryStack } from "./delivery-fixture.js";
import { configureApps } from "./apps.js";

// An upgrade from the layout before partitions: per endpoint, a durable consumer on
// herald.dl.<app>.<endpoint> and one on its .retry lane, and one durable router consumer
// (deliverer-router) on EVENTS. The state is built by hand with a NATS client, as the old deliverer
// left it when it was stopped; then a deliverer of the new layout starts and must lose nothing.

const WAIT = { timeoutMs: 30_000 };
const CJK_USER = "李四🙂";

let stack: DeliveryStack | undefined;
let server: RecordingServer | undefined;

afterEach(async () => {
  await stack?.stop();
  await server?.close();
  stack = undefined;
  server = undefined;
});

/** The old sender's consumer name: the app id's length keeps (app, endpoint) pairs apart. */
function legacyConsumer(lane: "fresh" | "retry", appId: string, endpointId: string): string {
  return `${lane === "fresh" ? "dl" : "dr"}-${appId.length}-${appId}-${endpointId}`;
}

function legacySubject(s: DeliveryStack, appId: string, endpointId: string, lane: "fresh" | "retry"): string {
  const fresh = `${s.names.subjects.legacyJobs().slice(0, -1)}${appId}.${endpointId}`;
  return lane === "fresh" ? fresh : `${fresh}.retry`;
}

/** Creates an old sender's two durable consumers for one endpoint, as it configured them. */
async function addLegacyConsumers(
  s: DeliveryStack,
  jsm: JetStreamManager,
  appId: string,
  endpointId: string,
): Promise<void> {
  for (const lane of ["fresh", "retry"] as const) {
    await jsm.consumers.add(s.names.streams.deliveries, {
      durable_name: legacyConsumer(lane, appId, endpointId),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: legacySubject(s, appId, endpointId, lane),
      max_deliver: -1,
    });
  }
}

/** Stores a job as the old router (fresh lane) or the old sender (retry lane) did. */
async function putLegacyJob(
  s: DeliveryStack,
  job: {
    appId: string;
    endpointId: string;
    event: Uint8Array;
    lane: "fresh" | "retry";
    attempts?: number;
    notBefore?: number;
  },
): Promise<string> {
  const event = Event.decode(job.event);
  const deliveryId = `${event.id}:${job.endpointId}`;
  const h = natsHeaders();
  h.set("Herald-Delivery-Id", deliveryId);
  h.set("Herald-Event-Id", event.id);
  h.set("Herald-Event-Type", "msg.sent");
  if (job.attempts !== undefined) h.set("Herald-Attempts", String(job.attempts));
  if (job.notBefore !== undefined) h.set("Herald-Not-Before", String(job.notBefore));
  const msgID =
    job.lane === "fresh" ? appScopedMsgId(job.appId, deliveryId) : `retry:fresh:${deliveryId}:${Date.now()}`;
  await jetstream(s.nc).publish(legacySubject(s, job.appId, job.endpointId, job.lane), job.event, {
    msgID,
    headers: h,
  });
  return deliveryId;
}

/** Every stored event, by its id: its EVENTS sequence and its bytes. */
async function storedEvents(s: DeliveryStack): Promise<Map<string, { seq: number; data: Uint8Array }>> {
  const jsm = await jetstreamManager(s.nc);
  const { state } = await jsm.streams.info(s.names.streams.events);
  const out = new Map<string, { seq: number; data: Uint8Array }>();
  for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(s.names.streams.events, { seq });
    if (m === null) continue;
    out.set(Event.decode(m.data).id, { seq, data: m.data });
  }
  return out;
}

/** Names of consumers of the layout before partitions still on either stream. */
async function legacyConsumersLeft(s: DeliveryStack): Promise<string[]> {
  const jsm = await jetstreamManager(s.nc);
  const names: string[] = [];
  for (const stream of [s.names.streams.events, s.names.streams.deliveries]) {
    for await (const c of jsm.consumers.list(stream)) names.push(c.name);
  }
  return names.filter((n) => /^(dl|dr)-/.test(n) || n === "deliverer-router" || n === "legacy-jobs");
}

/** Delivery ids of every request the business server got, one entry per request. */
function requestedIds(s: RecordingServer): string[] {
  return s.requests.flatMap((r) => heraldDeliveryIds(r.headers));
}

/** Nothing more can come: the router took every event, and every job is settled (DELIVERIES empty). */
async function settled(s: DeliveryStack): Promise<boolean> {
  if ((await partitionsBehind(s.bus, { name: "router", bucket: s.names.buckets.delivery })).length > 0)
    return false;
  const jsm = await jetstreamManager(s.nc);
  return (await jsm.streams.info(s.names.streams.deliveries)).state.messages === 0;
}

it("moves the old router's place and every old job, and sends each job once", async () => {
  server = await startRecordingServer();
  const s = (stack = await startDeliveryStack({ deliverers: 0 }));
  const appId = "mig";
  const jsm = await jetstreamManager(s.nc);
  // The app exists before its events (the gateway refuses unknown apps); its endpoints come later.
  await configureApps(s.env, [appId]);

  // Events stored through the gateway: the first batch routed by the old router, the second not.
  const routed = [
    messageEvent(appId, withUsers(CJK_USER, "2")),
    ...[1, 2, 3, 4, 5].map((i) => messageEvent(appId, withUsers(`u${i}`, `v${i}`))),
  ];
  const unrouted = [6, 7, 8, 9, 10].map((i) => messageEvent(appId, withUsers(`u${i}`, `v${i}`)));
  await publish(s.client, routed);
  await publish(s.client, unrouted);
  const stored = await storedEvents(s);
  expect(stored.size).toBe(routed.length + unrouted.length);
  const bytes = (id: string) => stored.get(id)!.data;

  // The old router consumer, having acknowledged exactly the first batch.
  await jsm.consumers.add(s.names.streams.events, {
    durable_name: "deliverer-router",
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: s.names.subjects.events(),
    max_deliver: -1,
  });
  const oldRouter = await jetstream(s.nc).consumers.get(s.names.streams.events, "deliverer-router");
  const acked: string[] = [];
  for await (const m of await oldRouter.fetch({ max_messages: routed.length, expires: 5_000 })) {
    acked.push(Event.decode(m.data).id);
    await m.ackAck();
  }
  expect(acked.sort()).toEqual(routed.map((e) => e.id!).sort());
  const floor = Math.max(...routed.map((e) => stored.get(e.id!)!.seq));
  expect((await jsm.consumers.info(s.names.streams.events, "deliverer-router")).ack_floor.stream_seq).toBe(
    floor,
  );

  // The old senders' consumers, and the jobs they had not finished.
  for (const endpointId of ["mq", "mq2"]) await addLegacyConsumers(s, jsm, appId, endpointId);
  const routedId = (i: number): string => routed[i]!.id!;
  const [a0, a1, a2, a3, a4, a5] = [
    routedId(0),
    routedId(1),
    routedId(2),
    routedId(3),
    routedId(4),
    routedId(5),
  ];
  const b0 = unrouted[0]!.id!;
  const legacy = {
    cjk: await putLegacyJob(s, { appId, endpointId: "mq", event: bytes(a0), lane: "fresh" }),
    fresh: [
      await putLegacyJob(s, { appId, endpointId: "mq", event: bytes(a1), lane: "fresh" }),
      await putLegacyJob(s, { appId, endpointId: "mq", event: bytes(a2), lane: "fresh" }),
      await putLegacyJob(s, { appId, endpointId: "mq2", event: bytes(a0), lane: "fresh" }),
      await putLegacyJob(s, { appId, endpointId: "mq2", event: bytes(a3), lane: "fresh" }),
    ],
    retry: await putLegacyJob(s, {
      appId,
      endpointId: "mq",
      event: bytes(a4),
      lane: "retry",
      attempts: 1,
      notBefore: Date.now() - 1_000,
    }),
    // Stored by the old router for an event it had not yet acknowledged when it stopped.
    unacked: await putLegacyJob(s, { appId, endpointId: "mq2", event: bytes(b0), lane: "fresh" }),
  };
  // A job the old sender held (delivered to it, not acknowledged) when it stopped.
  const oldSender = await jetstream(s.nc).consumers.get(
    s.names.streams.deliveries,
    legacyConsumer("fresh", appId, "mq"),
  );
  let held = 0;
  for await (const m of await oldSender.fetch({ max_messages: 1, expires: 5_000 })) {
    held += m.info.deliveryCount;
  }
  expect(held).toBe(1);
  expect((await jsm.streams.info(s.names.streams.deliveries)).state.messages).toBe(7);

  await putApp(s.bus, {
    appId,
    endpoints: [
      { id: "mq", url: `${server.url}/mq`, dialect: "mqttchat" },
      { id: "mq2", url: `${server.url}/mq2`, dialect: "mqttchat" },
    ],
  } as unknown as Parameters<typeof putApp>[1]);
  await s.startDeliverer();

  const legacyIds = [legacy.cjk, ...legacy.fresh, legacy.retry, legacy.unacked];
  const unroutedIds = unrouted.flatMap((e) => [`${e.id}:mq`, `${e.id}:mq2`]);
  await waitFor(
    () => {
      const got = new Set(requestedIds(server!));
      return [...legacyIds, ...unroutedIds].every((id) => got.has(id));
    },
    { ...WAIT, what: "every old job and every event the old router had not acknowledged to be sent" },
  );
  await waitFor(() => settled(s), {
    ...WAIT,
    what: "the router to take every event and every job to settle",
  });

  const ids = requestedIds(server);
  const count = (id: string) => ids.filter((x) => x === id).length;
  // Old jobs of acknowledged events: sent once each, the router did not make them again.
  for (const id of [legacy.cjk, ...legacy.fresh, legacy.retry]) expect(count(id), id).toBe(1);
  // Acknowledged events without a waiting job had been delivered before: nothing for them now.
  const deliveredBefore = [`${a1}:mq2`, `${a2}:mq2`, `${a3}:mq`, `${a4}:mq2`, `${a5}:mq`, `${a5}:mq2`];
  for (const id of deliveredBefore) expect(count(id), id).toBe(0);
  expect(ids.filter((id) => !legacyIds.includes(id) && !unroutedIds.includes(id))).toEqual([]);

  // The CJK/emoji user's job kept its body and got its ordering key.
  const cjk = server.requests.find((r) => heraldDeliveryIds(r.headers).includes(legacy.cjk))!;
  expect(parseMqttChat(cjk.text)).toMatchObject({ kind: "message", message: { from_userid: CJK_USER } });

  let records: AttemptRecord[] = [];
  await waitFor(
    async () => {
      records = (await attemptRecords(s)).filter((r) => r.appId === appId);
      return new Set(records.map((r) => r.deliveryId)).size >= new Set([...legacyIds, ...unroutedIds]).size;
    },
    { ...WAIT, what: "attempt records of every delivery" },
  );
  const recordOf = (id: string) => records.filter((r) => r.deliveryId === id);
  // The retry carried its attempt count: this was its second attempt.
  expect(recordOf(legacy.retry).map((r) => [r.attempt, r.outcome])).toEqual([[2, "delivered"]]);
  expect(recordOf(legacy.cjk).map((r) => [r.attempt, r.outcome, r.orderingKey])).toEqual([
    [1, "delivered", deliveryKey(Event.decode(bytes(a0)))],
  ]);
  expect(deliveryKey(Event.decode(bytes(a0)))).toBe(`conv:${JSON.stringify(["2", CJK_USER])}`);

  // Every partition starts from the old router's floor, at least.
  const checkpoints = await readCheckpoints(s.bus, s.names.buckets.delivery, "router");
  expect(checkpoints.size).toBe(s.bus.layout.partitions);
  for (const through of checkpoints.values()) expect(through).toBeGreaterThanOrEqual(floor);

  await waitFor(async () => (await legacyConsumersLeft(s)).length === 0, {
    ...WAIT,
    what: "no consumer of the layout before partitions to remain",
  });
}, 120_000);

// The server lists consumers a page (256) at a time: a platform with more than 128 endpoints had more.
it("deletes every old consumer of a platform with more than one page of them", async () => {
  server = await startRecordingServer();
  const s = (stack = await startDeliveryStack({ deliverers: 0 }));
  const appId = "many";
  const jsm = await jetstreamManager(s.nc);
  await addLegacyConsumers(s, jsm, appId, "mq");
  for (let i = 0; i < 140; i++) await addLegacyConsumers(s, jsm, `app${i}`, "mq");
  const event = messageEvent(appId, withUsers("u1", "u2"));
  const fresh = await putLegacyJob(s, {
    appId,
    endpointId: "mq",
    event: Event.encode(Event.fromPartial(event)).finish(),
    lane: "fresh",
  });
  expect((await legacyConsumersLeft(s)).length).toBe(282);

  await putApp(s.bus, {
    appId,
    endpoints: [{ id: "mq", url: `${server.url}/mq`, dialect: "mqttchat" }],
  } as unknown as Parameters<typeof putApp>[1]);
  await s.startDeliverer();

  await waitFor(() => requestedIds(server!).includes(fresh), { ...WAIT, what: "the old job to be sent" });
  await waitFor(async () => (await legacyConsumersLeft(s)).length === 0, {
    ...WAIT,
    what: "no consumer of the layout before partitions to remain",
  });
}, 120_000);

function withUsers(fromUserId: string, toUserId: string): Parameters<typeof messageEvent>[1] {
  return {
    payload: {
      $case: "messageSent",
      value: {
        messageId: `m-${fromUserId}-${toUserId}`,
        fromUserId,
        toUserId,
        content: "hi",
        type: 0,
        contentType: 101,
        sentAt: new Date(1_700_000_000_000),
      },
    },
  };
}

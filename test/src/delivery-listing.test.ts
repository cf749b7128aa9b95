// ListDeliveries over a real log store and Postgres: one row per delivery with its attempts folded in,
// every filter alone and combined, stable keyset paging, literal body search, replayable events.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import pg from "pg";
import { pino } from "pino";
import {
  applyTopology,
  connectBus,
  publishAttemptDurably,
  storeEvent,
  type AttemptRecord,
  type Bus,
} from "@herald/bus";
import {
  DeliveryLogServiceClient,
  Event,
  ListDeliveriesRequest,
  type DeepPartial,
  type Delivery,
  type ListDeliveriesResponse,
} from "@herald/proto";
import { startNats, startPostgres, waitFor, type NatsFixture, type PostgresFixture } from "@herald/testkit";
import { startService, stopAll, type ServiceProcess } from "./harness.js";

const APP = "listing";
const USER = "用户😀";
const ROOM = "房间🏠";
// Attempts an hour ago, a minute apart: well inside today's partitions and the search's default day.
const T0 = Date.now() - 60 * 60 * 1000;
const at = (minutes: number) => new Date(T0 + minutes * 60_000);

let nats: NatsFixture;
let postgres: PostgresFixture;
let logstore: ServiceProcess;
let bus: Bus;
let db: pg.Pool;
let client: DeliveryLogServiceClient;

const msg = (id: string, from: string, to: string): Event =>
  Event.fromPartial({
    id,
    appId: APP,
    type: "msg.sent",
    occurredAt: at(0),
    payload: {
      $case: "messageSent",
      value: { messageId: id, fromUserId: from, toUserId: to, content: "hi" },
    },
  });
const E1 = msg("e1", USER, "u2");
const E3 = msg("e3", "u4", "u5");
const E2 = Event.fromPartial({
  id: "e2",
  appId: APP,
  type: "room.joined",
  occurredAt: at(0),
  payload: { $case: "roomJoined", value: { roomId: ROOM, userIds: ["u3"] } },
});

let seq = 0;
function attempt(
  o: Omit<Partial<AttemptRecord>, "at"> & { eventId: string; endpointId: string; at: Date },
): AttemptRecord {
  seq += 1;
  return {
    id: `at-${String(seq).padStart(3, "0")}`,
    kind: "delivery",
    appId: APP,
    deliveryId: `${o.eventId}:${o.endpointId}`,
    attempt: 1,
    eventType: "msg.sent",
    dialect: "standard",
    trigger: "event",
    operationId: "op",
    url: "http://127.0.0.1:9/hook",
    requestBody: "{}",
    status: 200,
    responseBody: "ok",
    latencyMs: 5,
    outcome: "delivered",
    error: "",
    ...o,
    at: o.at.toISOString(),
  };
}

const RECORDS: AttemptRecord[] = [
  // e1:ep1, three attempts: failed twice, then delivered. The body has a literal "50%_off".
  ...[
    { outcome: "retry", status: 500, minutes: 0 },
    { outcome: "retry", status: 503, minutes: 1 },
    { outcome: "delivered", status: 200, minutes: 2 },
  ].map((a, i) =>
    attempt({
      eventId: "e1",
      endpointId: "ep1",
      attempt: i + 1,
      at: at(a.minutes),
      outcome: a.outcome,
      status: a.status,
      requestBody: '{"text":"你好 50%_off"}',
      responseBody: a.status === 200 ? "ok" : "busy",
    }),
  ),
  // e2:ep1, dead at once, carrying its event.
  attempt({
    eventId: "e2",
    endpointId: "ep1",
    eventType: "room.joined",
    at: at(3),
    outcome: "dead",
    status: 429,
    responseBody: "Quota exceeded",
    error: "429",
    event: Buffer.from(Event.encode(E2).finish()).toString("base64"),
  }),
  // e3:ep2, delivered; "50 percent" would match an unescaped "50%".
  attempt({ eventId: "e3", endpointId: "ep2", at: at(4), requestBody: '{"text":"50 percent"}' }),
  // e4:ep1: an event the log never stored, so nothing to replay.
  attempt({ eventId: "e4", endpointId: "ep1", at: at(5), outcome: "dead", status: 0, error: "refused" }),
  // A before-hook call is not a delivery.
  { ...attempt({ eventId: "e1", endpointId: "ep1", at: at(6) }), kind: "before", deliveryId: undefined },
];

beforeAll(async () => {
  [nats, postgres] = await Promise.all([startNats(), startPostgres()]);
  logstore = await startService("logstore", {
    NATS_URL: nats.url,
    HERALD_NAMESPACE: nats.namespace,
    DATABASE_URL: postgres.url,
  });
  await logstore.waitReady();
  bus = await connectBus({
    servers: nats.url,
    name: "test-listing",
    namespace: nats.namespace,
    log: pino({ level: "silent" }),
  });
  await applyTopology(bus, { replicas: 1 });
  db = new pg.Pool({ connectionString: postgres.url, max: 2 });
  client = new DeliveryLogServiceClient(logstore.grpcAddress, credentials.createInsecure());
  for (const e of [E1, E2, E3]) await storeEvent(bus, e, { msgId: e.id });
  for (const r of RECORDS) await publishAttemptDurably(bus, r);
  await waitFor(
    async () => {
      const { rows } = await db.query<{ a: string; e: string }>(
        "SELECT (SELECT count(*) FROM herald.attempts WHERE app_id = $1) AS a, (SELECT count(*) FROM herald.events WHERE app_id = $1) AS e",
        [APP],
      );
      return Number(rows[0]?.a) === RECORDS.length && Number(rows[0]?.e) === 3;
    },
    { timeoutMs: 20_000, what: "the attempts and events stored" },
  );
}, 60_000);

afterAll(async () => {
  client?.close();
  await bus?.drain().catch(() => undefined);
  await stopAll(logstore ? [logstore] : []);
  await db?.end();
  await postgres?.stop();
  await nats?.stop();
});

function list(req: DeepPartial<ListDeliveriesRequest>): Promise<ListDeliveriesResponse> {
  return new Promise((resolve, reject) =>
    client.listDeliveries(ListDeliveriesRequest.fromPartial({ appId: APP, ...req }), (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );
}
const ids = async (req: DeepPartial<ListDeliveriesRequest>) =>
  (await list(req)).deliveries.map((d) => d.deliveryId);

describe("ListDeliveries", () => {
  it("folds each delivery's attempts into one row, newest first", async () => {
    const { deliveries } = await list({});
    expect(deliveries.map((d) => d.deliveryId)).toEqual(["e4:ep1", "e3:ep2", "e2:ep1", "e1:ep1"]);
    const d1 = deliveries.find((d) => d.deliveryId === "e1:ep1") as Delivery;
    expect(d1).toMatchObject({
      eventId: "e1",
      endpointId: "ep1",
      eventType: "msg.sent",
      outcome: "delivered",
      attemptCount: 3,
      statusCode: 200,
      firstAt: at(0),
      lastAt: at(2),
      replayable: true,
    });
    expect(deliveries.find((d) => d.deliveryId === "e2:ep1")).toMatchObject({
      replayable: true,
      attemptCount: 1,
    });
    // Nothing on record to send again: listed, not replayable.
    expect(deliveries.find((d) => d.deliveryId === "e4:ep1")).toMatchObject({ replayable: false });
  });

  it("filters by outcome, event type, endpoint, user and room, alone and combined", async () => {
    expect(await ids({ outcome: "dead" })).toEqual(["e4:ep1", "e2:ep1"]);
    expect(await ids({ outcome: "retry" })).toEqual([]);
    expect(await ids({ eventType: "msg.sent" })).toEqual(["e4:ep1", "e3:ep2", "e1:ep1"]);
    expect(await ids({ endpointId: "ep2" })).toEqual(["e3:ep2"]);
    expect(await ids({ userId: USER })).toEqual(["e1:ep1"]);
    expect(await ids({ roomId: ROOM })).toEqual(["e2:ep1"]);
    expect(await ids({ eventType: "msg.sent", endpointId: "ep1" })).toEqual(["e4:ep1", "e1:ep1"]);
    expect(await ids({ eventType: "msg.sent", endpointId: "ep1", outcome: "dead" })).toEqual(["e4:ep1"]);
    expect(await ids({ userId: USER, outcome: "dead" })).toEqual([]);
    expect(await ids({ eventId: "e2" })).toEqual(["e2:ep1"]);
  });

  it("takes a time range, each delivery as of its end", async () => {
    // Attempts at minutes 2 (e1's last) and 3 (e2) fall in [1.5, 3.5).
    expect(await ids({ from: at(1.5), to: at(3.5) })).toEqual(["e2:ep1", "e1:ep1"]);
    // As of minute 1.5, e1 had failed twice and was to be tried again.
    const { deliveries } = await list({ to: at(1.5), outcome: "retry" });
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({
      deliveryId: "e1:ep1",
      attemptCount: 2,
      statusCode: 503,
      lastAt: at(1),
    });
  });

  it("searches request and response bodies literally and case-insensitively", async () => {
    expect(await ids({ search: "50%" })).toEqual(["e1:ep1"]);
    expect(await ids({ search: "50%_o" })).toEqual(["e1:ep1"]);
    expect(await ids({ search: "0_o" })).toEqual([]);
    expect(await ids({ search: "你好" })).toEqual(["e1:ep1"]);
    expect(await ids({ search: "quota EXCEEDED" })).toEqual(["e2:ep1"]);
    // An earlier attempt's response counts: e1's "busy" came before it was delivered.
    expect(await ids({ search: "busy" })).toEqual(["e1:ep1"]);
    expect(await ids({ search: "\\" })).toEqual([]);
    expect(await ids({ search: "percent", endpointId: "ep1" })).toEqual([]);
  });

  it("pages with a stable keyset, even while a delivery gets a new attempt", async () => {
    const all = await ids({});
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const res = await list({ pageSize: 1, pageToken });
      seen.push(...res.deliveries.map((d) => d.deliveryId));
      pageToken = res.nextPageToken;
      pages += 1;
      if (pages === 2) {
        // e4, already seen, is tried again: it moves to the top, and the pages after do not repeat it.
        await publishAttemptDurably(
          bus,
          attempt({
            eventId: "e4",
            endpointId: "ep1",
            at: new Date(),
            attempt: 2,
            outcome: "retry",
            status: 502,
          }),
        );
        await waitFor(
          async () =>
            (await ids({}))[0] === "e4:ep1" && (await list({ outcome: "retry" })).deliveries.length === 1,
          {
            what: "e4's new attempt stored",
          },
        );
      }
    } while (pageToken !== "");
    expect(seen).toEqual(all);
    expect(await ids({ outcome: "retry" })).toEqual(["e4:ep1"]);
  });

  it("gives the events of replayable deliveries only when asked", async () => {
    const plain = await list({});
    expect(plain.deliveries.every((d) => d.event.length === 0)).toBe(true);
    const { deliveries } = await list({ replayableOnly: true });
    expect(deliveries.map((d) => d.deliveryId).sort()).toEqual(["e1:ep1", "e2:ep1", "e3:ep2"]);
    expect(
      Event.decode(deliveries.find((d) => d.deliveryId === "e2:ep1")?.event ?? new Uint8Array()).id,
    ).toBe("e2");
    expect(
      Event.decode(deliveries.find((d) => d.deliveryId === "e1:ep1")?.event ?? new Uint8Array()).id,
    ).toBe("e1");
  });

  it("refuses bad input naming the field", async () => {
    for (const [req, field] of [
      [{ outcome: "failed" }, "outcome"],
      [{ search: "x".repeat(201) }, "search"],
      [{ from: at(2), to: at(1) }, "to"],
      [{ pageToken: "nope" }, "page_token"],
      [{ pageSize: 501 }, "page_size"],
    ] as const) {
      const err = (await list(req).then(
        () => new Error("expected a refusal"),
        (e: unknown) => e,
      )) as ServiceError;
      expect(err.code, JSON.stringify(req)).toBe(status.INVALID_ARGUMENT);
      expect(String(err.metadata?.get("herald-field")[0])).toBe(field);
    }
  });
});

// The log store as a process: ATTEMPTS and EVENTS into Postgres in batches, idempotently, through
// a Postgres outage, within retention; and DeliveryLogService over gRPC.
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
  GetEndpointActivityRequest,
  GetEventDeliveriesRequest,
  ListAttemptsRequest,
  ListDeadDeliveriesRequest,
  type Attempt,
  type DeepPartial,
  type GetEndpointActivityResponse,
  type GetEventDeliveriesResponse,
  type ListAttemptsResponse,
  type ListDeadDeliveriesResponse,
} from "@herald/proto";
import { startNats, startPostgres, waitFor, type NatsFixture, type PostgresFixture } from "@herald/testkit";
import { startService, stopAll, type ServiceProcess } from "./harness.js";

const DAY_MS = 86_400_000;
// An ordering key as the deliverer builds it from ids a chat core may send: CJK and an emoji
// (outside the BMP) must come back as they went in.
const ORDERING_KEY = "user:用户😀";
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
let nats: NatsFixture;
let postgres: PostgresFixture;
let logstore: ServiceProcess;
let bus: Bus;
let db: pg.Pool;
let client: DeliveryLogServiceClient;
let env: Record<string, string> & { NATS_URL: string };
const extra: ServiceProcess[] = [];

beforeAll(async () => {
  [nats, postgres] = await Promise.all([startNats(), startPostgres()]);
  env = {
    NATS_URL: nats.url,
    HERALD_NAMESPACE: nats.namespace,
    DATABASE_URL: postgres.url,
    LOG_PARTITION_CHECK_MS: "300",
    LOG_RETENTION_DAYS: "14",
  };
  logstore = await startService("logstore", env);
  await logstore.waitReady();
  bus = await connectBus({
    servers: nats.url,
    name: "test-logstore",
    namespace: nats.namespace,
    log: pino({ level: "silent" }),
  });
  // Learns the EVENTS layout the log store created, so storeEvent can place events.
  await applyTopology(bus, { replicas: 1 });
  db = new pg.Pool({ connectionString: postgres.url, max: 3 });
  // The outage test ends every session of the database, this pool's included.
  db.on("error", () => undefined);
  client = new DeliveryLogServiceClient(logstore.grpcAddress, credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await bus?.drain().catch(() => undefined);
  await stopAll([...(logstore ? [logstore] : []), ...extra]);
  await db?.end();
  await postgres?.stop();
  await nats?.stop();
});

let seq = 0;
function attempt(overrides: Partial<AttemptRecord> & { appId: string }): AttemptRecord {
  seq += 1;
  return {
    id: `at-${seq}-${Math.random().toString(36).slice(2, 8)}`,
    kind: "delivery",
    operationId: `op-${seq}`,
    url: "http://127.0.0.1:9/hook",
    requestBody: `{"n":${seq}}`,
    status: 200,
    responseBody: "ok",
    latencyMs: 12,
    outcome: "delivered",
    error: "",
    at: new Date().toISOString(),
    ...overrides,
  };
}

async function publishEvents(events: DeepPartial<Event>[]): Promise<Event[]> {
  const out: Event[] = [];
  for (const partial of events) {
    const event = Event.fromPartial({ occurredAt: new Date(), operationId: "op", ...partial });
    await storeEvent(bus, event, { msgId: event.id });
    out.push(event);
  }
  return out;
}

async function count(sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: string }>(sql, values);
  return Number(rows[0]?.n ?? 0);
}

const attemptsOf = (appId: string) =>
  count("SELECT count(*) AS n FROM herald.attempts WHERE app_id = $1", [appId]);

/** One unary call as a promise. */
function call<Res>(start: (cb: (err: ServiceError | null, res: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => start((err, res) => (err ? reject(err) : resolve(res))));
}

const listAttempts = (req: DeepPartial<ListAttemptsRequest>) =>
  call<ListAttemptsResponse>((cb) => client.listAttempts(ListAttemptsRequest.fromPartial(req), cb));
const eventDeliveries = (req: DeepPartial<GetEventDeliveriesRequest>) =>
  call<GetEventDeliveriesResponse>((cb) =>
    client.getEventDeliveries(GetEventDeliveriesRequest.fromPartial(req), cb),
  );
const endpointActivity = (req: DeepPartial<GetEndpointActivityRequest>) =>
  call<GetEndpointActivityResponse>((cb) =>
    client.getEndpointActivity(GetEndpointActivityRequest.fromPartial(req), cb),
  );
const deadDeliveries = (req: DeepPartial<ListDeadDeliveriesRequest>) =>
  call<ListDeadDeliveriesResponse>((cb) =>
    client.listDeadDeliveries(ListDeadDeliveriesRequest.fromPartial(req), cb),
  );

async function refusal(work: Promise<unknown>): Promise<{ code: number; field: string }> {
  const err = (await work.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => e,
  )) as ServiceError;
  return { code: err.code, field: String(err.metadata?.get("herald-field")[0] ?? "") };
}

describe("storing", () => {
  it("stores a record published twice once, and every record of a burst", async () => {
    const app = "store";
    const record = attempt({ appId: app, endpointId: "ep", deliveryId: "e:ep", eventId: "e" });
    // Straight to the stream without a Nats-Msg-Id, so JetStream keeps both copies: the log store
    // receives the record twice and must store it once.
    const bytes = new TextEncoder().encode(JSON.stringify(record));
    await bus.js.publish(bus.names.subjects.attempt(app), bytes);
    await bus.js.publish(bus.names.subjects.attempt(app), bytes);
    const burst = Array.from({ length: 1_500 }, () => attempt({ appId: app, endpointId: "ep" }));
    await Promise.all(burst.map((r) => publishAttemptDurably(bus, r)));
    await waitFor(async () => (await attemptsOf(app)) === 1_501, { timeoutMs: 20_000, what: "1501 rows" });
    expect(await count("SELECT count(*) AS n FROM herald.attempts WHERE id = $1", [record.id])).toBe(1);
    // Both copies were consumed and acknowledged, not left pending.
    await waitFor(async () => {
      const info = await (await bus.jsm()).consumers.info(bus.names.streams.attempts, "logstore-attempts");
      return info.num_ack_pending === 0 && info.num_pending === 0;
    });
    const { rows } = await db.query<{ request_body: string; status: number; latency_ms: number }>(
      "SELECT request_body, status, latency_ms FROM herald.attempts WHERE id = $1",
      [record.id],
    );
    expect(rows[0]).toEqual({ request_body: record.requestBody, status: 200, latency_ms: 12 });
  });

  it("stores events with the users they name", async () => {
    const [msg, room] = await publishEvents([
      {
        id: "ev-store-1",
        appId: "store",
        type: "msg.sent",
        payload: {
          $case: "messageSent",
          value: { messageId: "m1", fromUserId: "alice", toUserId: "bob", content: "hi" },
        },
      },
      {
        id: "ev-store-2",
        appId: "store",
        type: "room.joined",
        payload: { $case: "roomJoined", value: { roomId: "r1", userIds: ["carol", "dave"] } },
      },
    ]);
    await waitFor(
      async () => (await count("SELECT count(*) AS n FROM herald.events WHERE app_id = 'store'")) === 2,
    );
    const { rows } = await db.query<{
      id: string;
      user_ids: string[];
      room_id: string | null;
      payload: Buffer;
    }>("SELECT id, user_ids, room_id, payload FROM herald.events WHERE app_id = 'store' ORDER BY id");
    expect(rows.map((r) => [r.id, r.user_ids, r.room_id])).toEqual([
      ["ev-store-1", ["alice", "bob"], null],
      ["ev-store-2", ["carol", "dave"], "r1"],
    ]);
    expect(Event.decode(rows[0]!.payload)).toEqual(msg);
    expect(Event.decode(rows[1]!.payload)).toEqual(room);
  });

  it("logs a node.reset once, from its original, not from its copy in every partition", async () => {
    const rowsWritten = async () => {
      const text = await (await fetch(`${logstore.httpUrl}/metrics`)).text();
      return Number(
        /^herald_logstore_rows_written_total\{[^}]*table="events"[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0,
      );
    };
    const settled = async () => {
      const info = await (await bus.jsm()).consumers.info(bus.names.streams.events, "logstore-events");
      return info.num_pending === 0 && info.num_ack_pending === 0;
    };
    await waitFor(settled, { what: "earlier events logged" });
    const before = await rowsWritten();
    await publishEvents([
      {
        id: "ev-reset-1",
        appId: "store",
        type: "node.reset",
        payload: { $case: "nodeReset", value: { nodeId: "core-1" } },
      },
    ]);
    await waitFor(
      async () => (await count("SELECT count(*) AS n FROM herald.events WHERE id = 'ev-reset-1'")) === 1,
    );
    await waitFor(settled, { what: "every copy of the node.reset taken" });
    expect(bus.layout.partitions).toBeGreaterThan(1);
    expect(await rowsWritten()).toBe(before + 1);
  });
});

describe("queries", () => {
  const app = "query";
  const t0 = Date.now() - 60 * 60_000;
  const at = (minutes: number) => new Date(t0 + minutes * 60_000).toISOString();
  let e1: Event;
  let all: AttemptRecord[];

  beforeAll(async () => {
    const stored = await publishEvents([
      {
        id: "q-e1",
        appId: app,
        type: "msg.sent",
        payload: { $case: "messageSent", value: { messageId: "m", fromUserId: "u1", toUserId: "u2" } },
      },
      {
        id: "q-e2",
        appId: app,
        type: "room.joined",
        payload: { $case: "roomJoined", value: { roomId: "room", userIds: ["u3", "u4"] } },
      },
      {
        id: "q-e3",
        appId: app,
        type: "conn.online",
        payload: { $case: "connectionOnline", value: { userId: "u1", connId: "c1" } },
      },
    ]);
    e1 = stored[0]!;
    const e1Base64 = Buffer.from(Event.encode(e1).finish()).toString("base64");
    const d = (eventId: string, endpointId: string) => ({
      appId: app,
      eventId,
      endpointId,
      deliveryId: `${eventId}:${endpointId}`,
      eventType: "msg.sent",
      dialect: "standard",
      trigger: "event",
    });
    all = [
      // q-e1 to ep1: waited for an earlier callback of its key, retried, then dead (the dead
      // record carries the event).
      attempt({
        ...d("q-e1", "ep1"),
        attempt: 1,
        outcome: "retry",
        status: 500,
        error: "HTTP 500",
        at: at(1),
        orderingKey: ORDERING_KEY,
        keyWaitMs: 1_234,
      }),
      attempt({
        ...d("q-e1", "ep1"),
        orderingKey: ORDERING_KEY,
        keyWaitMs: 0,
        traceId: TRACE_ID,
        attempt: 2,
        outcome: "dead",
        status: 500,
        error: "HTTP 500",
        at: at(2),
        event: e1Base64,
      }),
      // q-e1 to ep2: delivered.
      attempt({ ...d("q-e1", "ep2"), attempt: 1, at: at(3) }),
      // q-e2 to ep1: dead, then replayed and delivered: nothing to replay.
      attempt({ ...d("q-e2", "ep1"), attempt: 1, outcome: "dead", status: 0, error: "timeout", at: at(4) }),
      attempt({ ...d("q-e2", "ep1"), attempt: 1, trigger: "replay", at: at(5) }),
      // q-e3 to ep1: dead without its own copy of the event; the event log has it.
      attempt({ ...d("q-e3", "ep1"), attempt: 1, outcome: "dead", status: 410, error: "gone", at: at(6) }),
      // q-e4 to ep1: dead, but its event is nowhere on record: it cannot be replayed.
      attempt({
        ...d("q-e4", "ep1"),
        attempt: 1,
        outcome: "dead",
        status: 500,
        error: "HTTP 500",
        at: at(7),
      }),
      // A before-hook evaluation.
      attempt({ appId: app, kind: "before", hook: "beforeSendSingleMsg", outcome: "continue", at: at(8) }),
      // Dead before `since` in the dead-deliveries test: left out there.
      attempt({
        ...d("q-e5", "ep1"),
        attempt: 1,
        outcome: "dead",
        error: "old",
        at: at(-30),
        event: e1Base64,
      }),
    ];
    for (const r of all) await publishAttemptDurably(bus, r);
    await waitFor(async () => (await attemptsOf(app)) === all.length, { what: "the query fixture" });
    await waitFor(
      async () => (await count("SELECT count(*) AS n FROM herald.events WHERE app_id = $1", [app])) === 3,
    );
  });

  const newestFirst = () =>
    [...all].sort((a, b) => (a.at === b.at ? (a.id < b.id ? 1 : -1) : a.at < b.at ? 1 : -1));

  it("lists attempts newest first, page by page, with every field", async () => {
    const seen: Attempt[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await listAttempts({ appId: app, pageSize: 2, pageToken });
      expect(page.attempts.length).toBeLessThanOrEqual(2);
      seen.push(...page.attempts);
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "");
    expect(pages).toBe(Math.ceil(all.length / 2));
    expect(seen.map((a) => a.id)).toEqual(newestFirst().map((r) => r.id));
    const dead = seen.find((a) => a.id === all[1]!.id);
    expect(dead).toEqual({
      id: all[1]!.id,
      appId: app,
      endpointId: "ep1",
      eventId: "q-e1",
      url: "http://127.0.0.1:9/hook",
      statusCode: 500,
      outcome: "dead",
      error: "HTTP 500",
      latencyMs: 12,
      attempt: 2,
      at: new Date(all[1]!.at),
      requestBody: all[1]!.requestBody,
      responseBody: "ok",
      kind: "delivery",
      deliveryId: "q-e1:ep1",
      hook: "",
      operationId: all[1]!.operationId,
      dialect: "standard",
      eventType: "msg.sent",
      trigger: "event",
      orderingKey: ORDERING_KEY,
      keyWaitMs: 0,
      traceId: TRACE_ID,
    });
  });

  it("keeps the ordering key and the wait for it, in Postgres and in every answer", async () => {
    const [waited, dead] = [all[0]!, all[1]!];
    const { rows } = await db.query<{ id: string; ordering_key: string; key_wait_ms: number }>(
      "SELECT id, ordering_key, key_wait_ms FROM herald.attempts WHERE app_id = $1 AND event_id = 'q-e1'",
      [app],
    );
    expect(new Map(rows.map((r) => [r.id, [r.ordering_key, r.key_wait_ms]]))).toEqual(
      new Map([
        [waited.id, [ORDERING_KEY, 1_234]],
        [dead.id, [ORDERING_KEY, 0]],
        [all[2]!.id, ["", 0]],
      ]),
    );
    const keyed = (list: Attempt[]) =>
      list
        .filter((a) => a.orderingKey !== "" || a.keyWaitMs !== 0)
        .map((a) => [a.id, a.orderingKey, a.keyWaitMs]);
    const expected = [
      [dead.id, ORDERING_KEY, 0],
      [waited.id, ORDERING_KEY, 1_234],
    ];
    expect(keyed((await listAttempts({ appId: app, eventId: "q-e1" })).attempts)).toEqual(expected);
    expect(keyed((await eventDeliveries({ appId: app, eventId: "q-e1" })).attempts)).toEqual(expected);
    const activity = await endpointActivity({ appId: app, endpointId: "ep1" });
    expect(keyed(activity.lastErrors)).toEqual(expected);
    const { deliveries } = await deadDeliveries({ appId: app, endpointId: "ep1", since: new Date(at(0)) });
    expect(deliveries[0]?.lastAttempt).toMatchObject({ orderingKey: ORDERING_KEY, keyWaitMs: 0 });
  });

  it("filters by endpoint, event, delivery, outcome, kind, time and user", async () => {
    const ids = async (req: DeepPartial<ListAttemptsRequest>) =>
      (await listAttempts({ appId: app, ...req })).attempts.map((a) => a.id).sort();
    const expected = (keep: (r: AttemptRecord) => boolean) =>
      all
        .filter(keep)
        .map((r) => r.id)
        .sort();
    expect(await ids({ endpointId: "ep2" })).toEqual(expected((r) => r.endpointId === "ep2"));
    expect(await ids({ eventId: "q-e1" })).toEqual(expected((r) => r.eventId === "q-e1"));
    expect(await ids({ deliveryId: "q-e2:ep1" })).toEqual(expected((r) => r.deliveryId === "q-e2:ep1"));
    expect(await ids({ outcome: "dead" })).toEqual(expected((r) => r.outcome === "dead"));
    expect(await ids({ kind: "before" })).toEqual(expected((r) => r.kind === "before"));
    expect(await ids({ from: new Date(at(2)), to: new Date(at(5)) })).toEqual(
      expected((r) => r.at >= at(2) && r.at < at(5)),
    );
    // u1 sent q-e1 and came online in q-e3; u3 joined a room in q-e2.
    expect(await ids({ userId: "u1" })).toEqual(
      expected((r) => r.eventId === "q-e1" || r.eventId === "q-e3"),
    );
    expect(await ids({ userId: "u3" })).toEqual(expected((r) => r.eventId === "q-e2"));
    expect(await ids({ userId: "nobody" })).toEqual([]);
    // Another app's attempts never show.
    expect((await listAttempts({ appId: "someone-else" })).attempts).toEqual([]);
  });

  it("gives an event with all its attempts", async () => {
    const found = await eventDeliveries({ appId: app, eventId: "q-e1" });
    expect(found.event).toEqual(e1);
    expect(found.attempts.map((a) => a.id)).toEqual(
      newestFirst()
        .filter((r) => r.eventId === "q-e1")
        .map((r) => r.id),
    );
    // Attempts but no stored event: the attempts, and no event.
    const orphan = await eventDeliveries({ appId: app, eventId: "q-e4" });
    expect(orphan.event).toBeUndefined();
    expect(orphan.attempts).toHaveLength(1);
    expect((await refusal(eventDeliveries({ appId: app, eventId: "nope" }))).code).toBe(status.NOT_FOUND);
    expect((await refusal(eventDeliveries({ appId: "other", eventId: "q-e1" }))).code).toBe(status.NOT_FOUND);
  });

  it("gives an endpoint's last attempts and last errors", async () => {
    const activity = await endpointActivity({ appId: app, endpointId: "ep1", limit: 3 });
    const ep1 = newestFirst().filter((r) => r.endpointId === "ep1");
    expect(activity.lastAttempts.map((a) => a.id)).toEqual(ep1.slice(0, 3).map((r) => r.id));
    expect(activity.lastErrors.map((a) => a.id)).toEqual(
      ep1
        .filter((r) => r.outcome !== "delivered")
        .slice(0, 3)
        .map((r) => r.id),
    );
    expect(activity.lastErrors.every((a) => a.outcome !== "delivered")).toBe(true);
    const all20 = await endpointActivity({ appId: app, endpointId: "ep1" });
    expect(all20.lastAttempts).toHaveLength(ep1.length);
  });

  it("lists the dead deliveries to replay: latest attempt dead, not delivered since, event on record", async () => {
    const { deliveries } = await deadDeliveries({ appId: app, endpointId: "ep1", since: new Date(at(0)) });
    expect(deliveries.map((d) => d.deliveryId)).toEqual(["q-e1:ep1", "q-e3:ep1"]);
    const [fromRecord, fromLog] = deliveries;
    expect(Event.decode(fromRecord!.event)).toEqual(e1);
    expect(fromRecord!.lastAttempt?.id).toBe(all[1]!.id);
    expect(fromRecord!.eventType).toBe("msg.sent");
    expect(Event.decode(fromLog!.event).id).toBe("q-e3");
    // An earlier `since` takes in the older dead delivery too.
    const older = await deadDeliveries({ appId: app, endpointId: "ep1", since: new Date(at(-31)) });
    expect(older.deliveries.map((d) => d.deliveryId)).toEqual(["q-e5:ep1", "q-e1:ep1", "q-e3:ep1"]);
    const limited = await deadDeliveries({
      appId: app,
      endpointId: "ep1",
      since: new Date(at(-31)),
      limit: 1,
    });
    expect(limited.deliveries.map((d) => d.deliveryId)).toEqual(["q-e5:ep1"]);
    expect(
      (await deadDeliveries({ appId: app, endpointId: "ep2", since: new Date(at(0)) })).deliveries,
    ).toEqual([]);
  });

  it("refuses bad input with INVALID_ARGUMENT naming the field", async () => {
    const cases: Array<[Promise<unknown>, string]> = [
      [listAttempts({}), "app_id"],
      [listAttempts({ appId: app, pageSize: 501 }), "page_size"],
      [listAttempts({ appId: app, pageSize: -1 }), "page_size"],
      [listAttempts({ appId: app, pageToken: "not-a-token" }), "page_token"],
      [listAttempts({ appId: app, kind: "sideways" }), "kind"],
      [listAttempts({ appId: app, from: new Date(at(5)), to: new Date(at(1)) }), "to"],
      [eventDeliveries({ appId: app }), "event_id"],
      [endpointActivity({ appId: app }), "endpoint_id"],
      [endpointActivity({ appId: app, endpointId: "ep1", limit: 201 }), "limit"],
      [deadDeliveries({ appId: app, endpointId: "ep1" }), "since"],
      [deadDeliveries({ appId: app, endpointId: "ep1", since: new Date(), limit: 10_001 }), "limit"],
    ];
    for (const [work, field] of cases) {
      expect(await refusal(work)).toEqual({ code: status.INVALID_ARGUMENT, field });
    }
  });
});

describe("an event's story", () => {
  const app = "story";
  const ms = (n: number) => new Date(Date.now() - 60_000 + n * 1000);

  it("gives the events derived from an event, and those derived from them, each with its attempts", async () => {
    // conn.offline -> user.offline (presence) -> room.status (the chatroom's auto-kick).
    const [offline, userOffline, kicked] = await publishEvents([
      {
        id: "s-e1",
        appId: app,
        type: "conn.offline",
        occurredAt: ms(1),
        payload: { $case: "connectionOffline", value: { userId: "u1", connId: "c1" } },
      },
      {
        id: `${app}:u1:presence:2`,
        appId: app,
        type: "user.offline",
        occurredAt: ms(2),
        payload: { $case: "userOffline", value: { userId: "u1", seq: 2, causeEventId: "s-e1" } },
      },
      {
        id: "s-e3",
        appId: app,
        type: "room.status",
        occurredAt: ms(3),
        payload: {
          $case: "roomStatus",
          value: { roomId: "r1", userIds: ["u1"], status: 1, kind: 2, causeEventId: `${app}:u1:presence:2` },
        },
      },
      // Another app's event naming the same cause id is not part of this app's story.
      {
        id: "s-other",
        appId: "story-other",
        type: "user.offline",
        occurredAt: ms(2),
        payload: { $case: "userOffline", value: { userId: "u1", seq: 2, causeEventId: "s-e1" } },
      },
    ]);
    const delivery = (eventId: string, n: number, outcome: string) =>
      attempt({
        appId: app,
        eventId,
        endpointId: "ep1",
        deliveryId: `${eventId}:ep1`,
        attempt: n,
        outcome,
        at: ms(3 + n).toISOString(),
      });
    const records = [
      delivery(userOffline!.id, 1, "retry"),
      delivery(userOffline!.id, 2, "delivered"),
      delivery(kicked!.id, 1, "delivered"),
    ];
    for (const r of records) await publishAttemptDurably(bus, r);
    await waitFor(async () => (await attemptsOf(app)) === records.length, { what: "the story's attempts" });
    await waitFor(
      async () => (await count("SELECT count(*) AS n FROM herald.events WHERE app_id = $1", [app])) === 3,
      { what: "the story's events" },
    );

    const story = await eventDeliveries({ appId: app, eventId: "s-e1" });
    expect(story.event).toEqual(offline);
    expect(story.attempts).toEqual([]);
    expect(story.derived.map((d) => d.event)).toEqual([userOffline, kicked]);
    expect(story.derived.map((d) => d.attempts.map((a) => [a.attempt, a.outcome]))).toEqual([
      [
        [2, "delivered"],
        [1, "retry"],
      ],
      [[1, "delivered"]],
    ]);
    // From the middle of the chain: its own attempts, and what was derived from it.
    const middle = await eventDeliveries({ appId: app, eventId: userOffline!.id });
    expect(middle.attempts).toHaveLength(2);
    expect(middle.derived.map((d) => d.event?.id)).toEqual(["s-e3"]);
  });
});

describe("partitions", () => {
  const day = (offset: number) => new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS + offset * DAY_MS);
  const name = (table: string, d: Date) => `${table}_p${d.toISOString().slice(0, 10).replaceAll("-", "")}`;
  const exists = async (table: string) =>
    (await db.query<{ e: boolean }>("SELECT to_regclass($1) IS NOT NULL AS e", [`herald.${table}`])).rows[0]
      ?.e;

  it("creates today's and the next days' partitions at start", async () => {
    for (const offset of [0, 1, 2]) {
      expect(await exists(name("attempts", day(offset)))).toBe(true);
      expect(await exists(name("events", day(offset)))).toBe(true);
    }
  });

  it("drops partitions past retention and keeps the rest", async () => {
    const old = day(-30);
    const recent = day(-3);
    for (const d of [old, recent]) {
      await db.query(
        `CREATE TABLE herald.${name("attempts", d)} PARTITION OF herald.attempts
         FOR VALUES FROM ('${d.toISOString()}') TO ('${new Date(d.getTime() + DAY_MS).toISOString()}')`,
      );
    }
    const row = (id: string, t: Date) =>
      db.query(
        "INSERT INTO herald.attempts (id, at, kind, app_id, outcome) VALUES ($1, $2, 'delivery', 'ret', 'dead')",
        [id, t],
      );
    await row("in-old-partition", new Date(old.getTime() + 3_600_000));
    await row("in-recent-partition", new Date(recent.getTime() + 3_600_000));
    // No partition for 40 days ago: the row sits in DEFAULT, and goes with retention too.
    await row("in-default", day(-40));
    expect(await count("SELECT count(*) AS n FROM herald.attempts_default WHERE id = 'in-default'")).toBe(1);
    // The log store checks every 300 ms (LOG_PARTITION_CHECK_MS).
    await waitFor(async () => !(await exists(name("attempts", old))), { what: "the old partition to go" });
    await waitFor(
      async () => (await count("SELECT count(*) AS n FROM herald.attempts WHERE app_id = 'ret'")) === 1,
    );
    expect(await exists(name("attempts", recent))).toBe(true);
    const { rows } = await db.query<{ id: string }>("SELECT id FROM herald.attempts WHERE app_id = 'ret'");
    expect(rows.map((r) => r.id)).toEqual(["in-recent-partition"]);
  });

  it("creates a partition over a day that already has rows in DEFAULT by moving them in", async () => {
    const future = day(4);
    const record = attempt({ appId: "future", at: new Date(future.getTime() + 60_000).toISOString() });
    await publishAttemptDurably(bus, record);
    await waitFor(
      async () =>
        (await count("SELECT count(*) AS n FROM herald.attempts_default WHERE id = $1", [record.id])) === 1,
    );
    // A second instance that makes partitions further ahead: the day of that row among them.
    const ahead = await startService("logstore", { ...env, LOG_PARTITION_AHEAD_DAYS: "5" });
    extra.push(ahead);
    await ahead.waitReady();
    await waitFor(() => exists(name("attempts", future)), { what: "the future partition" });
    const { rows } = await db.query<{ part: string }>(
      "SELECT tableoid::regclass::text AS part FROM herald.attempts WHERE id = $1",
      [record.id],
    );
    expect(rows).toEqual([{ part: `herald.${name("attempts", future)}` }]);
    await stopAll([ahead]);
    extra.splice(extra.indexOf(ahead), 1);
  });
});

describe("Postgres outage", () => {
  it("loses nothing while Postgres is unreachable, and catches up once it is back", async () => {
    const app = "outage";
    const admin = new pg.Client({ connectionString: adminUrl(postgres.url) });
    await admin.connect();
    const total = 3_000;
    let published = 0;
    const publishSome = async (n: number) => {
      const batch = Array.from({ length: n }, () => attempt({ appId: app, endpointId: "ep" }));
      await Promise.all(batch.map((r) => publishAttemptDurably(bus, r)));
      published += n;
    };
    try {
      await publishSome(500);
      // "Stopped": no session may open on the database, and every open one is ended.
      await admin.query(`ALTER DATABASE ${postgres.database} WITH ALLOW_CONNECTIONS false`);
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        [postgres.database],
      );
      // Generous waits: on a loaded two-core machine the next write or probe can take a while.
      await waitFor(async () => (await logstore.readyz()) === 503, {
        timeoutMs: 30_000,
        what: "readyz to report postgres down",
      }).catch((err: unknown) => {
        throw new Error(`${String(err)}\nlog store's last lines:\n${logstore.lines.slice(-15).join("\n")}`);
      });
      expect(await refusal(listAttempts({ appId: app }))).toMatchObject({ code: status.UNAVAILABLE });
      // Records keep coming while it is down.
      await publishSome(1_000);
      await waitFor(() => logstore.lines.some((l) => l.includes("Postgres write failed")), {
        timeoutMs: 30_000,
        what: "a failed batch write",
      });
      await publishSome(1_000);
      await admin.query(`ALTER DATABASE ${postgres.database} WITH ALLOW_CONNECTIONS true`);
      await publishSome(total - published);
      await waitFor(async () => (await attemptsOf(app)) === total, {
        timeoutMs: 45_000,
        what: `${total} rows`,
      });
      await waitFor(async () => (await logstore.readyz()) === 200, {
        timeoutMs: 30_000,
        what: "readyz back to ready",
      });
      expect((await listAttempts({ appId: app, pageSize: 1 })).attempts).toHaveLength(1);
    } finally {
      await admin
        .query(`ALTER DATABASE ${postgres.database} WITH ALLOW_CONNECTIONS true`)
        .catch(() => undefined);
      await admin.end();
    }
  }, 90_000);
});

function adminUrl(url: string): string {
  const u = new URL(url);
  u.pathname = "/postgres";
  return u.toString();
}

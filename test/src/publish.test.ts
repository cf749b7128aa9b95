import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status, type ServiceError } from "@grpc/grpc-js";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import {
  BeforeRequest,
  Decision,
  Event,
  PublishStreamRequest,
  type HeraldServiceClient,
  type PublishStreamResponse,
} from "@herald/proto";
import { COPY_HEADER, busNames, partitionOf, type BusNames } from "@herald/bus";
import { startNats, waitFor, type NatsFixture } from "@herald/testkit";
import { startService, stopAll, type ServiceProcess } from "./harness.js";
import { configureApps } from "./apps.js";
import { heraldClient, onlineEvent, publish } from "./grpc-client.js";

let nats: NatsFixture;
let gateway: ServiceProcess;
let client: HeraldServiceClient;
let nc: NatsConnection;
let jsm: JetStreamManager;
let names: BusNames;
// Few partitions, so a node.reset's copies are few to read back.
const PARTITIONS = 4;

beforeAll(async () => {
  nats = await startNats();
  names = busNames(nats.namespace);
  gateway = await startService("gateway", {
    NATS_URL: nats.url,
    HERALD_NAMESPACE: nats.namespace,
    HERALD_PARTITIONS: String(PARTITIONS),
  });
  await gateway.waitReady();
  await configureApps({ NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace }, ["app1", "app2"]);
  client = heraldClient(gateway.grpcAddress);
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  client?.close();
  await nc?.close();
  await stopAll(gateway ? [gateway] : []);
  await nats?.stop();
});

async function stored(seq: number) {
  const msg = await jsm.streams.getMessage(names.streams.events, { seq });
  if (msg === null) throw new Error(`no message at sequence ${seq}`);
  return {
    subject: msg.subject,
    msgId: msg.header?.get("Nats-Msg-Id"),
    copyOf: msg.header?.has(COPY_HEADER) === true ? msg.header.get(COPY_HEADER) : undefined,
    event: Event.decode(msg.data),
  };
}

/** Every message in EVENTS, in stream order (this file stores a few dozen). */
async function storedAll() {
  const { state } = await jsm.streams.info(names.streams.events);
  const seqs = Array.from(
    { length: state.messages === 0 ? 0 : state.last_seq - state.first_seq + 1 },
    (_, i) => state.first_seq + i,
  );
  return Promise.all(seqs.map((seq) => stored(seq)));
}

const eventAt = (lane: string, appId: string, key: string, type: string) =>
  names.subjects.event({ lane, partition: partitionOf(appId, key, PARTITIONS), appId, type });

async function streamCount(): Promise<number> {
  return (await jsm.streams.info(names.streams.events)).state.messages;
}

function grpcError(promise: Promise<unknown>): Promise<ServiceError> {
  return promise.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (err: ServiceError) => err,
  );
}

describe("Publish", () => {
  it("stores each event under herald.ev.<lane>.<partition>.<app>.<type> with Nats-Msg-Id <appId>:<eventId>, then answers", async () => {
    const events = [
      onlineEvent("app1", {
        payload: {
          $case: "connectionOnline",
          value: { userId: "u-42", connId: "c1", platformId: 5, nodeId: "core-1" },
        },
      }),
      {
        id: "msg-138946",
        appId: "app1",
        operationId: "op-msg",
        payload: {
          $case: "messageSent" as const,
          value: { messageId: "138946", fromUserId: "2", toUserId: "3601", type: 0, content: "ok" },
        },
      },
      {
        id: "pass-1",
        appId: "app2",
        payload: {
          $case: "passthrough" as const,
          value: { command: "callbackAfterJoinGroupCommand", payloadJson: '{"groupID":"g1"}' },
        },
      },
    ];
    const res = await publish(client, events);
    expect(res.results.map((r) => [r.eventId, r.duplicate])).toEqual(events.map((e) => [e.id, false]));

    const [online, message, pass] = await Promise.all(res.results.map((r) => stored(r.streamSeq)));
    expect(online?.subject).toBe(eventAt("conn", "app1", "u-42", "conn.online"));
    expect(online?.msgId).toBe(`app1:${events[0]?.id}`);
    expect(online?.event.type).toBe("conn.online");
    expect(online?.event.operationId).toBe(events[0]?.operationId);
    expect(online?.event.occurredAt).toBeInstanceOf(Date);
    // The platform name is filled from OpenIM's platform id.
    expect(online?.event.payload).toMatchObject({ $case: "connectionOnline", value: { platform: "Web" } });
    // A message's key is its conversation; a passthrough names no key, so its own id is the key.
    expect(message?.subject).toBe(eventAt("msg", "app1", 'conv:["2","3601"]', "msg.sent"));
    expect(message?.event.payload).toMatchObject({ value: { messageId: "138946", content: "ok" } });
    expect(pass?.subject).toBe(
      eventAt("msg", "app2", "event:pass-1", "openim.callbackAfterJoinGroupCommand"),
    );
    for (const e of [online, message, pass]) expect(e?.copyOf).toBeUndefined();
  });

  it("stores a node.reset in every partition before it answers: one original, a marked copy in each other", async () => {
    const reset = {
      id: "reset-1",
      appId: "app1",
      payload: { $case: "nodeReset" as const, value: { nodeId: "core-9" } },
    };
    const before = await streamCount();
    const res = await publish(client, [reset]);
    const original = await stored(res.results[0]?.streamSeq ?? 0);
    const home = partitionOf("app1", "core-9", PARTITIONS);
    expect(original.subject).toBe(eventAt("conn", "app1", "core-9", "node.reset"));
    expect(original).toMatchObject({ msgId: "app1:reset-1", copyOf: undefined });

    // Read right after the answer, without waiting: the copies were stored before it.
    const all = (await storedAll()).filter((m) => m.event.id === "reset-1");
    expect(all.map((m) => names.subjects.parseEvent(m.subject)?.partition).sort()).toEqual([0, 1, 2, 3]);
    expect(all.filter((m) => m.copyOf === undefined)).toHaveLength(1);
    for (const copy of all.filter((m) => m.copyOf !== undefined)) {
      const partition = names.subjects.parseEvent(copy.subject)?.partition;
      expect(copy).toMatchObject({ copyOf: String(home), msgId: `app1:reset-1#${partition}` });
      expect(copy.event).toEqual(original.event);
    }
    expect(await streamCount()).toBe(before + PARTITIONS);

    // Published again, it is a duplicate everywhere.
    const again = await publish(client, [reset]);
    expect(again.results[0]).toEqual({ ...res.results[0], duplicate: true });
    expect(await streamCount()).toBe(before + PARTITIONS);
  });

  it("stores an event published twice with the same id once", async () => {
    const event = onlineEvent("app1");
    const before = await streamCount();
    const first = await publish(client, [event]);
    const second = await publish(client, [event]);
    expect(first.results[0]?.duplicate).toBe(false);
    expect(second.results[0]).toEqual({ ...first.results[0], duplicate: true });
    expect(await streamCount()).toBe(before + 1);
  });

  it("refuses a batch with one bad event, stores none of it, and names the field and index", async () => {
    const before = await streamCount();
    const bad = onlineEvent("app1", {
      payload: { $case: "connectionOnline", value: { userId: "", connId: "c1", platformId: 1, nodeId: "n" } },
    });
    const err = await grpcError(publish(client, [onlineEvent("app1"), onlineEvent("app1"), bad]));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toContain("events[2].connection_online.user_id");
    expect(err.metadata.get("herald-field")).toEqual(["events[2].connection_online.user_id"]);
    expect(await streamCount()).toBe(before);
  });

  it.each([
    ["an app id that is not a subject token", { appId: "app.1" }, "events[0].app_id"],
    ["an empty event id", { id: "" }, "events[0].id"],
    ["no payload", { payload: undefined }, "events[0].payload"],
    ["a type that does not match the payload", { type: "msg.sent" }, "events[0].type"],
    [
      "a message to both a user and a group",
      {
        payload: {
          $case: "messageSent" as const,
          value: { messageId: "1", fromUserId: "a", toUserId: "b", groupId: "g", type: 0 },
        },
      },
      "events[0].message_sent.to_user_id",
    ],
    [
      "an MQTT-chat message type outside 0-5",
      {
        payload: {
          $case: "messageSent" as const,
          value: { messageId: "1", fromUserId: "a", toUserId: "b", type: 6 },
        },
      },
      "events[0].message_sent.type",
    ],
    [
      "a passthrough whose payload is not a JSON object",
      { payload: { $case: "passthrough" as const, value: { command: "callbackX", payloadJson: "[1]" } } },
      "events[0].passthrough.payload_json",
    ],
    [
      "a join with a blank user id",
      { payload: { $case: "roomJoined" as const, value: { roomId: "r1", userIds: ["u1", " "] } } },
      "events[0].room_joined.user_ids[1]",
    ],
  ])("refuses %s", async (_what, overrides, field) => {
    const err = await grpcError(publish(client, [onlineEvent("app1", overrides)]));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.metadata.get("herald-field")).toEqual([field]);
  });

  it("refuses an empty batch and a batch over the size limit", async () => {
    const empty = await grpcError(publish(client, []));
    expect(empty.code).toBe(status.INVALID_ARGUMENT);
    const huge = await grpcError(
      publish(client, [onlineEvent("app1", { operationId: "x".repeat(5 * 1024 * 1024) })]),
    );
    expect(huge.code).toBe(status.RESOURCE_EXHAUSTED);
  });
});

describe("PublishStream", () => {
  it("answers each batch in order once stored, and reports a bad batch without ending the stream", async () => {
    const call = client.publishStream();
    const answers: PublishStreamResponse[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on("data", (res: PublishStreamResponse) => answers.push(res));
      call.on("end", resolve);
      call.on("error", reject);
    });
    const batches = [1, 2, 3, 4].map((batchId) => ({
      batchId,
      events: batchId === 3 ? [onlineEvent("app1", { id: "" })] : [onlineEvent("app1"), onlineEvent("app1")],
    }));
    for (const b of batches) call.write(PublishStreamRequest.fromPartial(b));
    call.end();
    await done;

    expect(answers.map((a) => a.batchId)).toEqual([1, 2, 3, 4]);
    expect(answers[2]?.error).toMatchObject({ code: "INVALID_ARGUMENT", field: "events[0].id" });
    for (const i of [0, 1, 3]) {
      expect(answers[i]?.error).toBeUndefined();
      const results = answers[i]?.results ?? [];
      expect(results).toHaveLength(2);
      for (const r of results) expect((await stored(r.streamSeq)).msgId).toBe(`app1:${r.eventId}`);
    }
  });
});

describe("Before", () => {
  it("answers continue until hooks are evaluated, carrying the operation id", async () => {
    const res = await new Promise((resolve, reject) =>
      client.before(
        BeforeRequest.fromPartial({
          appId: "app1",
          command: "callbackBeforeSendSingleMsgCommand",
          operationId: "op-77",
          payloadJson: "{}",
        }),
        (err, r) => (err ? reject(err) : resolve(r)),
      ),
    );
    expect(res).toMatchObject({ decision: Decision.DECISION_CONTINUE, operationId: "op-77" });
  });
});

describe("the duplicate window (EVENT_DEDUP_WINDOW)", () => {
  it("stores a repeated id once for as long as the window says: a short one lapses, the default holds", async () => {
    // A second gateway, in a namespace of its own, with a window short enough to see it lapse.
    const shortEnv = { NATS_URL: nats.url, HERALD_NAMESPACE: `${nats.namespace}w` };
    const shortGateway = await startService("gateway", { ...shortEnv, EVENT_DEDUP_WINDOW: "2s" });
    const shortClient = heraldClient(shortGateway.grpcAddress);
    try {
      await shortGateway.waitReady();
      await configureApps(shortEnv, ["app1"]);
      const windowOf = async (namespace: string) =>
        (await jsm.streams.info(busNames(namespace).streams.events)).config.duplicate_window;
      expect(await windowOf(nats.namespace)).toBe(600_000_000_000);
      expect(await windowOf(shortEnv.HERALD_NAMESPACE)).toBe(2_000_000_000);

      const event = onlineEvent("app1");
      const first = await publish(client, [event]);
      expect((await publish(shortClient, [event])).results[0]?.duplicate).toBe(false);
      // Published again until the short window has lapsed and the same id is stored a second time...
      await waitFor(async () => (await publish(shortClient, [event])).results[0]?.duplicate === false, {
        timeoutMs: 30_000,
        what: "the 2 s duplicate window to lapse",
      });
      // ...which the default window, longer than the 2 s that passed, still holds: stored once.
      const again = await publish(client, [event]);
      expect(again.results[0]).toEqual({ ...first.results[0], duplicate: true });
    } finally {
      shortClient.close();
      await stopAll([shortGateway]);
    }
  });
});

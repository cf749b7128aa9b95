import { credentials, Server, ServerCredentials, status } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Decision,
  DecisionSource,
  Event,
  EVENT_TYPES,
  eventType,
  HeraldServiceClient,
  HeraldServiceService,
  MissingEventPayloadError,
  OfflineReason,
  PublishStreamRequest,
} from "./index.js";
import type {
  BeforeResponse,
  DeepPartial,
  EventPayloadCase,
  HeraldServiceServer,
  PublishResponse,
  PublishResult,
  PublishStreamResponse,
} from "./index.js";

const occurredAt = new Date("2024-05-06T07:08:09.123Z");

function eventOf(id: string, payload: DeepPartial<Event["payload"]>): Event {
  return Event.fromPartial({ id, appId: "app_1", occurredAt, operationId: `op-${id}`, payload });
}

// One event per payload case, every field away from its proto3 default so encoding must carry it.
const eventsByCase: Record<EventPayloadCase, { event: Event; type: string }> = {
  connectionOnline: {
    type: "conn.online",
    event: eventOf("e1", {
      $case: "connectionOnline",
      value: {
        userId: "u1",
        connId: "c1",
        platformId: 5,
        platform: "Web",
        isAppBackground: true,
        nodeId: "n1",
        clientIp: "10.0.0.7",
      },
    }),
  },
  connectionOffline: {
    type: "conn.offline",
    event: eventOf("e2", {
      $case: "connectionOffline",
      value: {
        userId: "u1",
        connId: "c1",
        platformId: 2,
        platform: "Android",
        nodeId: "n1",
        reason: OfflineReason.OFFLINE_REASON_TIMEOUT,
      },
    }),
  },
  connectionBackground: {
    type: "conn.background",
    event: eventOf("e3", {
      $case: "connectionBackground",
      value: { userId: "u1", connId: "c1", isAppBackground: true, nodeId: "n1" },
    }),
  },
  nodeReset: {
    type: "node.reset",
    event: eventOf("e4", {
      $case: "nodeReset",
      value: {
        nodeId: "n2",
        reason: 2,
        beforeSeq: 41,
        lastHeartbeat: occurredAt,
        lease: { seconds: 30, nanos: 0 },
      },
    }),
  },
  nodeHeartbeat: {
    type: "node.heartbeat",
    event: eventOf("e5", {
      $case: "nodeHeartbeat",
      value: { nodeId: "n2", lease: { seconds: 30, nanos: 500_000_000 } },
    }),
  },
  nodeLeaseCheck: {
    type: "node.lease_check",
    event: eventOf("e5b", { $case: "nodeLeaseCheck", value: { nodeId: "n2", heartbeatSeq: 7, check: 2 } }),
  },
  messageSent: {
    type: "msg.sent",
    event: eventOf("e6", {
      $case: "messageSent",
      value: {
        messageId: "m1",
        clientMsgId: "cm1",
        fromUserId: "u1",
        groupId: "g1",
        type: 2,
        content: "hello",
        p1: "a",
        p2: "b",
        p3: "c",
        contentType: 101,
        sessionType: 3,
        senderPlatformId: 1,
        senderNickname: "Ann",
        senderFaceUrl: "https://example.test/a.png",
        atUserIds: ["u2", "u3"],
        ex: "{}",
        seq: 2 ** 40 + 1,
        sentAt: new Date("2024-05-06T07:08:10.456Z"),
      },
    }),
  },
  roomCreated: {
    type: "room.created",
    event: eventOf("e7", { $case: "roomCreated", value: { roomId: "r1", status: 1 } }),
  },
  roomJoined: {
    type: "room.joined",
    event: eventOf("e8", { $case: "roomJoined", value: { roomId: "r1", userIds: ["u1", "u2"], status: 2 } }),
  },
  roomLeft: {
    type: "room.left",
    event: eventOf("e9", { $case: "roomLeft", value: { roomId: "r1", userIds: ["u2"], status: 1 } }),
  },
  roomDestroyed: {
    type: "room.destroyed",
    event: eventOf("e10", { $case: "roomDestroyed", value: { roomId: "r1", status: 3 } }),
  },
  passthrough: {
    type: "openim.callbackAfterJoinGroupCommand",
    event: eventOf("e11", {
      $case: "passthrough",
      value: { command: "callbackAfterJoinGroupCommand", payloadJson: '{"groupID":"g1"}' },
    }),
  },
  userOnline: {
    type: "user.online",
    event: eventOf("e12", {
      $case: "userOnline",
      value: {
        userId: "u1",
        seq: 3,
        connId: "c1",
        platformId: 1,
        platform: "IOS",
        isAppBackground: true,
        nodeId: "n1",
        clientIp: "10.0.0.1",
        causeEventId: "e1",
      },
    }),
  },
  userOffline: {
    type: "user.offline",
    event: eventOf("e13", {
      $case: "userOffline",
      value: {
        userId: "u1",
        seq: 4,
        connId: "c1",
        platformId: 1,
        platform: "IOS",
        reason: OfflineReason.OFFLINE_REASON_KICKED,
        nodeId: "n1",
        nodeReset: true,
        causeEventId: "e2",
        nodeResetReason: 2,
      },
    }),
  },
  userBackground: {
    type: "user.background",
    event: eventOf("e14", {
      $case: "userBackground",
      value: {
        userId: "u1",
        seq: 5,
        connId: "c1",
        platformId: 2,
        platform: "Android",
        isAppBackground: false,
        causeEventId: "e3",
      },
    }),
  },
  roomStatus: {
    type: "room.status",
    event: eventOf("e15", {
      $case: "roomStatus",
      value: { roomId: "r1", userIds: ["u1"], status: 1, kind: 2, time: 1574476797772, causeEventId: "e9" },
    }),
  },
  roomRejected: {
    type: "room.rejected",
    event: eventOf("e16", {
      $case: "roomRejected",
      value: {
        roomId: "r1",
        userIds: ["u3"],
        reason: "not_a_member",
        causeEventId: "e9",
        causeType: "room.left",
      },
    }),
  },
  ...(Object.fromEntries(
    (
      [
        ["endpointDisabled", "endpoint.disabled", "disabled"],
        ["endpointPaused", "endpoint.paused", "paused"],
        ["endpointEnabled", "endpoint.enabled", "active"],
        ["endpointFailing", "endpoint.failing", "active"],
        ["endpointRecovered", "endpoint.recovered", "active"],
      ] as const
    ).map(([c, type, state], i) => [
      c,
      {
        type,
        event: eventOf(`e${17 + i}`, {
          $case: c,
          value: {
            endpointId: "ep-1",
            state,
            previousState: "paused",
            reason: "answered HTTP 401",
            since: occurredAt,
            until: occurredAt,
            revision: 42 + i,
          },
        }),
      },
    ]),
  ) as Record<
    "endpointDisabled" | "endpointPaused" | "endpointEnabled" | "endpointFailing" | "endpointRecovered",
    { event: Event; type: string }
  >),
};
const cases = Object.entries(eventsByCase);
const allEvents = cases.map(([, { event }]) => event);

describe("Event encoding", () => {
  it.each(cases)("round-trips a %s payload through encode/decode", (payloadCase, { event }) => {
    const bytes = Event.encode(event).finish();
    const decoded = Event.decode(bytes);
    expect(decoded.payload?.$case).toBe(payloadCase);
    expect(decoded).toEqual(event);
  });
});

describe("eventType", () => {
  it.each(cases)("derives the type of a %s payload", (_payloadCase, { event, type }) => {
    expect(eventType(event)).toBe(type);
  });

  it("lists every fixed type once, and no passthrough type", () => {
    const fixedTypes = cases.map(([, { type }]) => type).filter((type) => !type.startsWith("openim."));
    expect([...EVENT_TYPES].sort()).toEqual(fixedTypes.sort());
  });

  it("refuses an event without a payload", () => {
    const event = Event.fromPartial({ id: "e0", appId: "app_1" });
    expect(() => eventType(event)).toThrow(MissingEventPayloadError);
  });
});

describe("HeraldService over grpc-js", () => {
  const received: Event[] = [];
  let nextSeq = 1;
  const resultsFor = (events: Event[]): PublishResult[] =>
    events.map((event) => ({ eventId: event.id, streamSeq: nextSeq++, duplicate: false }));

  const heraldServer: HeraldServiceServer = {
    before: (call, callback) => {
      if (call.request.command === "") {
        callback({ code: status.INVALID_ARGUMENT, details: "command is required" });
        return;
      }
      callback(null, {
        decision: Decision.DECISION_DENY,
        errCode: 5001,
        errMsg: "muted",
        errDlt: "",
        payloadJson: "",
        source: DecisionSource.DECISION_SOURCE_BREAKER_OPEN,
        operationId: call.request.operationId,
      });
    },
    publish: (call, callback) => {
      received.push(...call.request.events);
      callback(null, { results: resultsFor(call.request.events) });
    },
    beforeStream: (call) => call.on("end", () => call.end()),
    publishStream: (call) => {
      call.on("data", (request: PublishStreamRequest) => {
        received.push(...request.events);
        call.write({ batchId: request.batchId, results: resultsFor(request.events), error: undefined });
      });
      call.on("end", () => call.end());
    },
  };

  const server = new Server();
  let client: HeraldServiceClient;

  beforeAll(async () => {
    server.addService(HeraldServiceService, heraldServer);
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, boundPort) =>
        error ? reject(error) : resolve(boundPort),
      );
    });
    client = new HeraldServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  });

  it("answers a unary Publish with the events decoded intact", async () => {
    received.length = 0;
    const response = await new Promise<PublishResponse>((resolve, reject) => {
      client.publish({ events: allEvents }, (error: ServiceError | null, answer: PublishResponse) =>
        error ? reject(error) : resolve(answer),
      );
    });
    expect(received).toEqual(allEvents);
    expect(response.results.map((result) => result.eventId)).toEqual(allEvents.map((event) => event.id));
    expect(response.results.every((result) => result.streamSeq > 0 && !result.duplicate)).toBe(true);
  });

  it("answers each batch of a bidi PublishStream, in order", async () => {
    received.length = 0;
    const batches = [
      PublishStreamRequest.fromPartial({ batchId: 7, events: allEvents.slice(0, 4) }),
      PublishStreamRequest.fromPartial({ batchId: 2 ** 33, events: allEvents.slice(4) }),
    ];
    const stream = client.publishStream();
    const answers: PublishStreamResponse[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on("data", (answer: PublishStreamResponse) => answers.push(answer));
      stream.on("error", reject);
      stream.on("end", resolve);
    });
    for (const batch of batches) stream.write(batch);
    stream.end();
    await done;

    expect(received).toEqual(allEvents);
    expect(answers.map((answer) => answer.batchId)).toEqual([7, 2 ** 33]);
    expect(answers.map((answer) => answer.results.map((result) => result.eventId))).toEqual(
      batches.map((batch) => batch.events.map((event) => event.id)),
    );
  });

  it("carries a Before decision, and a status error, back to the client", async () => {
    const ask = (command: string) =>
      new Promise<BeforeResponse>((resolve, reject) => {
        const request = { appId: "app_1", command, operationId: "op-1", payloadJson: "{}" };
        client.before(request, (error: ServiceError | null, answer: BeforeResponse) =>
          error ? reject(error) : resolve(answer),
        );
      });
    expect(await ask("callbackBeforeSendSingleMsgCommand")).toMatchObject({
      decision: Decision.DECISION_DENY,
      errCode: 5001,
      source: DecisionSource.DECISION_SOURCE_BREAKER_OPEN,
      operationId: "op-1",
    });
    await expect(ask("")).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });
});

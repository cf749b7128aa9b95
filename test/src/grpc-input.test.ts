// Everything the chat core sends over gRPC is checked at the gateway: operation ids, sizes the bus can
// carry, JSON depth, UTF-8, times and numbers in range, Unicode ids, and event ids scoped per app.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, credentials, status, type ServiceError } from "@grpc/grpc-js";
import { jetstreamManager } from "@nats-io/jetstream";
import type { PublishStreamResponse } from "@herald/proto";
import {
  BeforeRequest,
  BeforeStreamRequest,
  BeforeStreamResponse,
  Decision,
  DecisionSource,
  Event,
  PublishRequest,
  PublishStreamRequest,
  type DeepPartial,
} from "@herald/proto";
import { largestPayloadBytes, messageLimitBytes } from "@herald/bus";
import { startRecordingServer, waitFor, type RecordingServer } from "@herald/testkit";
import { before, beforeStream, publish } from "./grpc-client.js";
import {
  configureApp,
  messageEvent,
  startDeliveryStack,
  waitForAttempts,
  type DeliveryStack,
} from "./delivery-fixture.js";
import { configureApps } from "./apps.js";

const SECRET = `whsec_${Buffer.alloc(32, 9).toString("base64")}`;
const CONTINUE = { actionCode: 0, errCode: 0, errMsg: "", errDlt: "", nextCode: "" };
const SEND = "callbackBeforeSendSingleMsgCommand";
const single = { sendID: "u1", recvID: "u2", contentType: 101, content: '{"content":"hi"}' };

let stack: DeliveryStack;
let hooks: RecordingServer;
let sink: RecordingServer;
let raw: Client;
let limit: number;

beforeAll(async () => {
  stack = await startDeliveryStack({ also: ["evaluator"] });
  // Apps whose events these tests publish with no endpoint to deliver them to.
  await configureApps(stack.env, ["ids", "deep", "times", "uni", "utf8", "big"]);
  hooks = await startRecordingServer();
  hooks.fallback({ status: 200, body: CONTINUE });
  sink = await startRecordingServer();
  sink.fallback((req) => (req.path === "/refuses" ? { status: 401 } : { status: 200 }));
  raw = new Client(stack.gateway.grpcAddress, credentials.createInsecure());
  limit = largestPayloadBytes(messageLimitBytes(stack.bus));
  // A strict hook: a failed callback denies, and five failures in a row open its breaker for a minute.
  await configureApp(stack, {
    appId: "hooks",
    endpoints: [],
    openim: {
      url: `${hooks.url}/cb`,
      urlStyle: "path",
      commandNames: "seed",
      hooks: {
        beforeSendSingleMsg: { enable: true, timeout: 2, failedContinue: false },
        beforeMsgModify: { enable: true, timeout: 2, failedContinue: false },
      },
    },
    breaker: { failureThreshold: 5, openMs: 60_000 },
  } as unknown as Parameters<typeof configureApp>[1]);
  await waitFor(
    async () =>
      (await before(stack.client, { appId: "hooks", command: SEND, payload: single })).source ===
      DecisionSource.DECISION_SOURCE_BUSINESS_SERVER,
    { timeoutMs: 10_000, what: "the gateway to see the hooks app" },
  );
});

afterAll(async () => {
  raw?.close();
  await stack?.stop();
  await hooks?.close();
  await sink?.close();
});

function refusal(promise: Promise<unknown>): Promise<ServiceError> {
  return promise.then(
    () => {
      throw new Error("expected the call to be refused");
    },
    (err: ServiceError) => err,
  );
}

async function expectRefused(promise: Promise<unknown>, code: status, field: string): Promise<ServiceError> {
  const err = await refusal(promise);
  expect({ code: status[err.code], field: err.metadata.get("herald-field") }).toEqual({
    code: status[code],
    field: [field],
  });
  return err;
}

async function eventCount(): Promise<number> {
  const jsm = await jetstreamManager(stack.nc);
  return (await jsm.streams.info(stack.names.streams.events)).state.messages;
}

/** Sends bytes as they are: what a client with its own protobuf encoder (or a broken one) may send. */
function rawUnary(method: "Before" | "Publish", bytes: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    raw.makeUnaryRequest(
      `/herald.v1.HeraldService/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(bytes),
      (err: ServiceError | null, res?: Buffer) => (err ? reject(err) : resolve(res ?? Buffer.alloc(0))),
    ),
  );
}

/** The message with the bytes of `marker` (ASCII, so one byte each) replaced by 0xFF, invalid in UTF-8. */
function withInvalidUtf8(message: Uint8Array, marker: string): Buffer {
  const bytes = Buffer.from(message);
  const at = bytes.indexOf(marker);
  if (at < 0) throw new Error(`marker ${marker} not in the message`);
  bytes.fill(0xff, at, at + marker.length);
  return bytes;
}

function varint(value: bigint): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** A PublishRequest of one event whose occurred_at is `seconds` since the epoch, however large. */
function publishWithSeconds(event: DeepPartial<Event>, seconds: bigint): Buffer {
  const timestamp = [0x08, ...varint(seconds)];
  const encoded = [...Event.encode(Event.fromPartial(event)).finish(), 0x1a, timestamp.length, ...timestamp];
  return Buffer.from([0x0a, ...varint(BigInt(encoded.length)), ...encoded]);
}

describe("operation_id", () => {
  it("refuses one that is not a header value, so the hook's breaker stays closed", async () => {
    for (let i = 0; i < 5; i++) {
      const err = await expectRefused(
        before(stack.client, { appId: "hooks", command: SEND, operationId: "操作", payload: single }),
        status.INVALID_ARGUMENT,
        "operation_id",
      );
      expect(err.details).toContain("operation_id");
    }
    const res = await before(stack.client, {
      appId: "hooks",
      command: SEND,
      operationId: "op-legit",
      payload: single,
    });
    expect(res).toMatchObject({
      decision: Decision.DECISION_CONTINUE,
      source: DecisionSource.DECISION_SOURCE_BUSINESS_SERVER,
    });
  });

  it("is checked in BeforeStream, Publish and PublishStream too; 128 visible ASCII characters pass", async () => {
    const stream = beforeStream(stack.client);
    const bad = await stream.send({ appId: "hooks", command: SEND, operationId: "op 1", payload: single });
    const long = await stream.send({
      appId: "hooks",
      command: SEND,
      operationId: "o".repeat(129),
      payload: single,
    });
    const ok = await stream.send({
      appId: "hooks",
      command: SEND,
      operationId: "~".repeat(128),
      payload: single,
    });
    stream.end();
    expect(bad.error).toMatchObject({ code: "INVALID_ARGUMENT", field: "operation_id" });
    expect(long.error).toMatchObject({ code: "INVALID_ARGUMENT", field: "operation_id" });
    expect(ok.response?.decision).toBe(Decision.DECISION_CONTINUE);

    const stored = await eventCount();
    await expectRefused(
      publish(stack.client, [messageEvent("ids"), messageEvent("ids", { operationId: "操作" })]),
      status.INVALID_ARGUMENT,
      "events[1].operation_id",
    );
    const answers = await publishStream([
      { batchId: 1, events: [messageEvent("ids", { operationId: "a\nb" })] },
    ]);
    expect(answers[0]?.error).toMatchObject({ code: "INVALID_ARGUMENT", field: "events[0].operation_id" });
    expect(await eventCount()).toBe(stored);
  });
});

function publishStream(batches: DeepPartial<PublishStreamRequest>[]): Promise<PublishStreamResponse[]> {
  const call = stack.client.publishStream();
  const answers: PublishStreamResponse[] = [];
  const done = new Promise<PublishStreamResponse[]>((resolve, reject) => {
    call.on("data", (res: PublishStreamResponse) => answers.push(res));
    call.on("end", () => resolve(answers));
    call.on("error", reject);
  });
  for (const b of batches) call.write(PublishStreamRequest.fromPartial(b));
  call.end();
  return done;
}

/** A msg.sent event of the app with some of its message's fields replaced. */
function sentWith(
  appId: string,
  fields: Record<string, unknown>,
  base = messageEvent(appId),
): DeepPartial<Event> {
  const value = base.payload?.$case === "messageSent" ? base.payload.value : {};
  return { ...base, payload: { $case: "messageSent", value: { ...value, ...fields } } };
}

/** A msg.sent event of exactly `bytes` bytes as stored (its type and time given, so intake adds nothing). */
function eventOfSize(appId: string, bytes: number): DeepPartial<Event> {
  const base = messageEvent(appId, { type: "msg.sent" });
  const at = (n: number) => sentWith(appId, { content: "x".repeat(n) }, base);
  let n = bytes;
  for (let i = 0; i < 4; i++) n += bytes - Event.encode(Event.fromPartial(at(n))).finish().length;
  const event = at(n);
  expect(Event.encode(Event.fromPartial(event)).finish().length).toBe(bytes);
  return event;
}

describe("sizes", () => {
  it("documents one limit under NATS's max_payload", () => {
    expect(limit).toBeGreaterThan(512 * 1024);
    expect(limit).toBeLessThan(messageLimitBytes(stack.bus));
  });

  it("refuses a 2 MB Before payload with RESOURCE_EXHAUSTED naming the field and the limit", async () => {
    hooks.clear();
    const err = await expectRefused(
      before(stack.client, {
        appId: "hooks",
        command: SEND,
        payload: { ...single, content: "x".repeat(2 * 1024 * 1024) },
      }),
      status.RESOURCE_EXHAUSTED,
      "payload_json",
    );
    expect(err.details).toContain(String(limit));
    expect(hooks.requests).toHaveLength(0);
  });

  it("passes a Before payload of exactly the limit to the business server", async () => {
    hooks.clear();
    const payload = { ...single, content: "" };
    payload.content = "y".repeat(limit - JSON.stringify(payload).length);
    expect(Buffer.byteLength(JSON.stringify(payload))).toBe(limit);
    const res = await before(stack.client, { appId: "hooks", command: SEND, payload });
    expect(res).toMatchObject({
      decision: Decision.DECISION_CONTINUE,
      source: DecisionSource.DECISION_SOURCE_BUSINESS_SERVER,
    });
    const [req] = await hooks.waitForRequests(1);
    expect(req?.json<{ content: string }>().content).toBe(payload.content);
  });

  it("treats a modification over the limit as a failed callback, not as no answer", async () => {
    // Each part within its limit (the request's, the business server's 1 MiB response), the whole over it.
    hooks.reply({ body: { ...CONTINUE, content: "z".repeat(900 * 1024) } });
    const res = await before(stack.client, {
      appId: "hooks",
      command: "callbackBeforeMsgModifyCommand",
      payload: { ...single, ex: "e".repeat(600 * 1024) },
    });
    expect(res).toMatchObject({
      decision: Decision.DECISION_DENY,
      source: DecisionSource.DECISION_SOURCE_CALLBACK_FAILED,
      errMsg: "callback failed: body",
    });
    expect(res.errDlt).toContain(String(limit));
  });

  it("refuses an event over the limit and stores nothing of its batch", async () => {
    const stored = await eventCount();
    const err = await expectRefused(
      publish(stack.client, [messageEvent("big"), eventOfSize("big", 2 * 1024 * 1024)]),
      status.RESOURCE_EXHAUSTED,
      "events[1]",
    );
    expect(err.details).toContain(String(limit));
    await expectRefused(
      publish(stack.client, [eventOfSize("big", limit + 1)]),
      status.RESOURCE_EXHAUSTED,
      "events[0]",
    );
    const answers = await publishStream([{ batchId: 7, events: [eventOfSize("big", limit + 1)] }]);
    expect(answers[0]?.error).toMatchObject({ code: "RESOURCE_EXHAUSTED", field: "events[0]" });
    expect(await eventCount()).toBe(stored);
  });

  it("stores, delivers and records (dead too, event included) an event of exactly the limit", async () => {
    await configureApp(stack, {
      appId: "big",
      endpoints: [
        { id: "std", url: `${sink.url}/std`, dialect: "standard", secrets: [{ value: SECRET }] },
        { id: "mq", url: `${sink.url}/refuses`, dialect: "mqttchat" },
      ],
    });
    const event = eventOfSize("big", limit);
    const [result] = (await publish(stack.client, [event])).results;
    expect(result?.duplicate).toBe(false);
    const records = await waitForAttempts(stack, "big", 2);
    const outcome = (endpointId: string) => records.find((r) => r.endpointId === endpointId);
    expect(outcome("std")?.outcome).toBe("delivered");
    expect(outcome("mq")?.outcome).toBe("dead");
    const dead = Event.decode(Buffer.from(outcome("mq")?.event ?? "", "base64"));
    expect(dead.id).toBe(event.id);
    const delivered = sink.requests.find((r) => r.path === "/std");
    expect(delivered?.body.length).toBeGreaterThan(limit - 1024);
  });
});

describe("JSON nesting", () => {
  const nested = (depth: number) => `${'{"a":'.repeat(depth - 1)}{}${"}".repeat(depth - 1)}`;

  it("refuses payload_json nested deeper than the limit, in Before and in passthrough events", async () => {
    await expectRefused(
      rawUnary(
        "Before",
        BeforeRequest.encode({
          appId: "hooks",
          command: SEND,
          operationId: "",
          payloadJson: nested(10_000),
        }).finish(),
      ),
      status.INVALID_ARGUMENT,
      "payload_json",
    );
    const pass = (payloadJson: string): DeepPartial<Event> => ({
      ...messageEvent("deep"),
      payload: { $case: "passthrough", value: { command: "callbackAfterJoinGroupCommand", payloadJson } },
    });
    await expectRefused(
      publish(stack.client, [pass(nested(10_000))]),
      status.INVALID_ARGUMENT,
      "events[0].passthrough.payload_json",
    );
    await expectRefused(
      publish(stack.client, [pass(nested(65))]),
      status.INVALID_ARGUMENT,
      "events[0].passthrough.payload_json",
    );
    expect((await publish(stack.client, [pass(nested(64))])).results).toHaveLength(1);
  });

  it("passes a payload nested exactly to the limit to the business server", async () => {
    const res = await rawUnary(
      "Before",
      BeforeRequest.encode({
        appId: "hooks",
        command: SEND,
        operationId: "",
        payloadJson: nested(64),
      }).finish(),
    );
    expect(res.length).toBeGreaterThan(0);
  });
});

describe("UTF-8", () => {
  it("refuses invalid UTF-8 in a Before payload, naming the field", async () => {
    const bytes = BeforeRequest.encode({
      appId: "hooks",
      command: SEND,
      operationId: "",
      payloadJson: '{"content":"MARK"}',
    }).finish();
    await expectRefused(
      rawUnary("Before", withInvalidUtf8(bytes, "MARK")),
      status.INVALID_ARGUMENT,
      "payload_json",
    );
  });

  it("refuses invalid UTF-8 in an event's id fields and content, and stores nothing", async () => {
    const stored = await eventCount();
    const user = messageEvent("utf8", {
      payload: {
        $case: "messageSent",
        value: { messageId: "1", fromUserId: "USER", toUserId: "b", type: 0 },
      },
    });
    const request = (e: DeepPartial<Event>) =>
      PublishRequest.encode(PublishRequest.fromPartial({ events: [messageEvent("utf8"), e] })).finish();
    await expectRefused(
      rawUnary("Publish", withInvalidUtf8(request(user), "USER")),
      status.INVALID_ARGUMENT,
      "events[1].message_sent.from_user_id",
    );
    const content = messageEvent("utf8", {
      payload: {
        $case: "messageSent",
        value: { messageId: "1", fromUserId: "a", toUserId: "b", content: "TEXT" },
      },
    });
    await expectRefused(
      rawUnary("Publish", withInvalidUtf8(request(content), "TEXT")),
      status.INVALID_ARGUMENT,
      "events[1].message_sent.content",
    );
    expect(await eventCount()).toBe(stored);
  });

  it("keeps a real U+FFFD, which is valid text", async () => {
    const event = messageEvent("utf8", {
      payload: {
        $case: "messageSent",
        value: { messageId: "1", fromUserId: "\uFFFD", toUserId: "b", content: "\uFFFD" },
      },
    });
    const res = await rawUnary(
      "Publish",
      PublishRequest.encode(PublishRequest.fromPartial({ events: [event] })).finish(),
    );
    expect(res.length).toBeGreaterThan(0);
  });

  it("answers a BeforeStream request with invalid UTF-8 in-band, keeping the stream open", async () => {
    const call = raw.makeBidiStreamRequest(
      "/herald.v1.HeraldService/BeforeStream",
      (b: Buffer) => b,
      (b: Buffer) => BeforeStreamResponse.decode(b),
    );
    const answers: BeforeStreamResponse[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on("data", (res: BeforeStreamResponse) => answers.push(res));
      call.on("end", resolve);
      call.on("error", reject);
    });
    const request = (requestId: number) =>
      BeforeStreamRequest.encode({
        requestId,
        request: { appId: "hooks", command: SEND, operationId: "", payloadJson: '{"content":"MARK"}' },
      }).finish();
    call.write(withInvalidUtf8(request(1), "MARK"));
    call.write(Buffer.from(request(2)));
    call.end();
    await done;
    const byId = new Map(answers.map((a) => [a.requestId, a]));
    expect(byId.get(1)?.error).toMatchObject({ code: "INVALID_ARGUMENT", field: "payload_json" });
    expect(byId.get(2)?.response?.decision).toBe(Decision.DECISION_CONTINUE);
  });
});

describe("times and numbers", () => {
  it.each([
    ["in year -1199", new Date("-001199-06-01T00:00:00Z")],
    ["before 1970", new Date("1969-12-31T23:59:59Z")],
    ["after 9999", new Date("+010000-01-01T00:00:00Z")],
  ])("refuses occurred_at %s", async (_what, occurredAt) => {
    await expectRefused(
      publish(stack.client, [messageEvent("times", { occurredAt })]),
      status.INVALID_ARGUMENT,
      "events[0].occurred_at",
    );
  });

  it.each([
    ["9e15 s", 9_000_000_000_000_000n],
    ["beyond 2^53 s", 2n ** 60n],
  ])("refuses occurred_at of %s with INVALID_ARGUMENT, not INTERNAL", async (_what, seconds) => {
    await expectRefused(
      rawUnary("Publish", publishWithSeconds(messageEvent("times"), seconds)),
      status.INVALID_ARGUMENT,
      "events[0].occurred_at",
    );
  });

  it("refuses a sent_at out of range and a seq beyond 2^53", async () => {
    await expectRefused(
      publish(stack.client, [sentWith("times", { sentAt: new Date("0100-01-01T00:00:00Z") })]),
      status.INVALID_ARGUMENT,
      "events[0].message_sent.sent_at",
    );
    // The generated encoder writes a bigint as it is: more than a number can hold.
    const seq = sentWith("times", { seq: 2n ** 60n });
    const bytes = PublishRequest.encode(PublishRequest.fromPartial({ events: [seq] })).finish();
    await expectRefused(rawUnary("Publish", bytes), status.INVALID_ARGUMENT, "events[0].message_sent.seq");
  });

  it("accepts the edges of the range", async () => {
    const res = await publish(stack.client, [
      messageEvent("times", { occurredAt: new Date(0) }),
      messageEvent("times", { occurredAt: new Date("9999-12-31T23:59:59.999Z") }),
    ]);
    expect(res.results).toHaveLength(2);
  });
});

describe("ids", () => {
  const online = (userId: string, extra: Record<string, unknown> = {}): DeepPartial<Event> => ({
    ...messageEvent("uni"),
    payload: {
      $case: "connectionOnline",
      value: { userId, connId: "c1", platformId: 5, nodeId: "n1", ...extra },
    },
  });

  it("accepts CJK, emoji and right-to-left user and room ids, and 256 characters of any of them", async () => {
    const res = await publish(stack.client, [
      online("李四"),
      online("😀👩‍👩‍👧"),
      online("مستخدم"),
      online("אבג"),
      online("😀".repeat(256)),
      {
        ...messageEvent("uni"),
        payload: { $case: "roomJoined", value: { roomId: "房间-١", userIds: ["李四", "مستخدم"], status: 0 } },
      },
    ]);
    expect(res.results.every((r) => !r.duplicate)).toBe(true);
  });

  it.each([
    ["a NUL", "a\u0000b"],
    ["a control character", "a\u0007b"],
    ["a C1 control character", "a\u0085b"],
    ["whitespace", "a b"],
    ["257 characters", "😀".repeat(257)],
  ])("refuses a user id with %s", async (_what, userId) => {
    await expectRefused(
      publish(stack.client, [online(userId)]),
      status.INVALID_ARGUMENT,
      "events[0].connection_online.user_id",
    );
  });
});

describe("event ids are scoped per app", () => {
  it("stores and delivers the same event id in two apps, each with the same endpoint id", async () => {
    for (const appId of ["twin1", "twin2"]) {
      await configureApp(stack, {
        appId,
        endpoints: [
          { id: "ep", url: `${sink.url}/${appId}`, dialect: "standard", secrets: [{ value: SECRET }] },
        ],
      });
    }
    const id = `shared-${Date.now()}`;
    const res = await publish(stack.client, [messageEvent("twin1", { id }), messageEvent("twin2", { id })]);
    expect(res.results.map((r) => r.duplicate)).toEqual([false, false]);
    expect(res.results[0]?.streamSeq).not.toBe(res.results[1]?.streamSeq);
    await waitFor(() => ["/twin1", "/twin2"].every((p) => sink.requests.some((r) => r.path === p)), {
      timeoutMs: 15_000,
      what: "both apps' deliveries",
    });
    for (const p of ["/twin1", "/twin2"]) {
      // The receiver's idempotency key stays `<eventId>:<endpointId>`.
      expect(sink.requests.find((r) => r.path === p)?.headers["webhook-id"]).toBe(`${id}:ep`);
    }
    // A repeat within one app is still one event.
    expect((await publish(stack.client, [messageEvent("twin1", { id })])).results[0]?.duplicate).toBe(true);
  });
});

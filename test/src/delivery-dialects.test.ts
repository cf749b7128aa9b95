import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OfflineReason, type DeepPartial, type Event } from "@herald/proto";
import {
  SignatureError,
  parseMqttChat,
  parseOpenIm,
  parseRongCloudChatroomBatch,
  parseStandardWebhook,
  verifyRongCloud,
  verifyStandardWebhook,
} from "@herald/receiver";
import { startRecordingServer, waitFor, type RecordedRequest, type RecordingServer } from "@herald/testkit";
import { partitionsBehind } from "@herald/projection";
import { publish } from "./grpc-client.js";
import { attemptRecords, configureApp, startDeliveryStack, type DeliveryStack } from "./delivery-fixture.js";

// Each dialect's bytes as the deliverer puts them on the wire, read back by a recording business server
// and checked with @herald/receiver and against the seeds (000 MQTT-chat, 001 RongCloud, 002-004 OpenIM).

const secret = (fill: number) => `whsec_${Buffer.alloc(32, fill).toString("base64")}`;
const WAIT = { timeoutMs: 20_000 };

let stack: DeliveryStack;
const servers: RecordingServer[] = [];

beforeAll(async () => {
  stack = await startDeliveryStack({ also: ["presence", "chatroom"] });
}, 90_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await stack?.stop();
});

/** A business server of its own for one test, closed with the stack. */
async function businessServer(): Promise<RecordingServer> {
  const server = await startRecordingServer();
  servers.push(server);
  return server;
}

type AppInput = Parameters<typeof configureApp>[1];

/** Writes the app and waits until the deliverer holds it: then its router routes the app's events. */
async function configure(app: AppInput): Promise<void> {
  await configureApp(stack, app);
}

/** Every event stored so far has been routed: jobs exist for all that take one. */
async function routed(): Promise<void> {
  await waitFor(
    async () =>
      (await partitionsBehind(stack.bus, { name: "router", bucket: stack.names.buckets.delivery })).length ===
      0,
    { timeoutMs: 10_000, what: "the router to route every stored event" },
  );
}

/**
 * Records the job ids (Nats-Msg-Id `<appId>:<eventId>:<endpointId>`) the router writes for an app, as they are
 * published: DELIVERIES is a work queue, so a delivered job leaves no trace in the stream.
 */
async function watchJobs(appId: string): Promise<{ ids: string[]; stop(): void }> {
  const sub = stack.nc.subscribe(`${stack.names.subjects.jobs().slice(0, -1)}*.${appId}.>`);
  const ids: string[] = [];
  void (async () => {
    for await (const m of sub) ids.push(m.headers?.get("Nats-Msg-Id") ?? m.subject);
  })();
  await stack.nc.flush();
  return { ids, stop: () => sub.unsubscribe() };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let n = 0;
type Payload = DeepPartial<Event>["payload"];

function event(appId: string, payload: Payload, at?: number): DeepPartial<Event> {
  n += 1;
  return {
    id: `dd-${process.pid}-${n}`,
    appId,
    operationId: `op-dd-${n}`,
    ...(at === undefined ? {} : { occurredAt: new Date(at) }),
    payload,
  };
}

type Sent = NonNullable<Extract<Payload, { $case: "messageSent" }>["value"]>;

function message(appId: string, value: Sent, at = 1_700_000_000_123): DeepPartial<Event> {
  return event(appId, { $case: "messageSent", value }, at);
}

const connOnline = (appId: string, userId: string, connId: string, at: number, clientIp = "") =>
  event(
    appId,
    {
      $case: "connectionOnline",
      value: { userId, connId, platformId: 2, platform: "Android", nodeId: "core-1", clientIp },
    },
    at,
  );
const connOffline = (appId: string, userId: string, connId: string, at: number) =>
  event(
    appId,
    { $case: "connectionOffline", value: { userId, connId, reason: OfflineReason.OFFLINE_REASON_LOGOUT } },
    at,
  );
const roomCreated = (appId: string, roomId: string, at: number) =>
  event(appId, { $case: "roomCreated", value: { roomId } }, at);
const roomJoined = (appId: string, roomId: string, at: number, ...userIds: string[]) =>
  event(appId, { $case: "roomJoined", value: { roomId, userIds } }, at);

/** The single message of the OpenIM tests, and its afterSendSingleMsg body as OpenIM would send it. */
const openImSingle = (appId: string): DeepPartial<Event> =>
  message(appId, {
    messageId: "srv-1",
    clientMsgId: "cli-1",
    fromUserId: "u-send",
    toUserId: "u-recv",
    content: '{"content":"hi"}',
    contentType: 101,
    senderPlatformId: 1,
    senderNickname: "Ann",
    seq: 7,
    sentAt: new Date(1_700_000_000_456),
  });

const openImSingleBody = (operationId: string) =>
  `{"sendID":"u-send","callbackCommand":"callbackAfterSendSingleMsgCommand","serverMsgID":"srv-1",` +
  `"clientMsgID":"cli-1","operationID":"${operationId}","senderPlatformID":1,"senderNickname":"Ann",` +
  `"sessionType":1,"msgFrom":100,"contentType":101,"status":2,"sendTime":1700000000456,` +
  `"createTime":1700000000456,"content":"{\\"content\\":\\"hi\\"}","seq":7,"atUserList":null,` +
  `"faceURL":"","ex":"","recvID":"u-recv"}`;

function expectOpenIm(req: RecordedRequest, ev: DeepPartial<Event>, endpointId: string, command: string) {
  expect(req.method).toBe("POST");
  expect(req.headers["content-type"]).toBe("application/json");
  expect(req.headers["operationid"]).toBe(ev.operationId);
  expect(req.headers["herald-delivery-id"]).toBe(`${String(ev.id)}:${endpointId}`);
  const parsed = parseOpenIm({ url: req.url, headers: req.headers, body: req.text });
  expect(parsed.command).toBe(command);
  expect(parsed.operationId).toBe(ev.operationId);
  return parsed;
}

describe("mqttchat", () => {
  it("sends presence and message bodies byte for byte as seed 000 shows them", async () => {
    const appId = "mq-bytes";
    const server = await businessServer();
    const url = `${server.url}/messages-callback.php?site=herald`;
    await configure({ appId, endpoints: [{ id: "mq", url, dialect: "mqttchat" }] });

    await publish(stack.client, [connOnline(appId, "1", "c1", 1_602_511_574_000)]);
    const [online] = await server.waitForRequests(1, WAIT);
    await publish(stack.client, [connOffline(appId, "1", "c1", 1_602_511_580_999)]);
    const offline = (await server.waitForRequests(2, WAIT))[1];
    const sent = message(
      appId,
      {
        messageId: "138946",
        fromUserId: "2",
        toUserId: "3601",
        content: "ok",
        type: 0,
        p1: "",
        p2: "",
        p3: "",
        sentAt: new Date(1_602_511_586_400),
      },
      1_602_511_590_000,
    );
    await publish(stack.client, [sent]);
    const msg = (await server.waitForRequests(3, WAIT))[2];

    // Seed 000's two examples, exactly.
    expect(online?.text).toBe('{"userid":1,"status":"online","timestamp":1602511574}');
    expect(offline?.text).toBe('{"userid":1,"status":"offline","timestamp":1602511580}');
    expect(msg?.text).toBe(
      '{"from_userid":2,"message":{"id":138946,"message":"ok","p1":"","p2":"","p3":"","timestamp":1602511586,"type":0},"to_userid":3601}',
    );
    expect(parseMqttChat(online!.text)).toEqual({
      kind: "presence",
      presence: { userid: 1, status: "online", timestamp: 1602511574 },
    });
    expect(parseMqttChat(offline!.text).kind).toBe("presence");
    expect(parseMqttChat(msg!.text).kind).toBe("message");

    for (const req of [online!, offline!, msg!]) {
      expect(req.method).toBe("POST");
      expect(req.url).toBe("/messages-callback.php?site=herald");
      expect(req.headers["content-type"]).toBe("application/json");
    }
    expect(online!.headers["herald-delivery-id"]).toBe(`${appId}:1:presence:1:mq`);
    expect(offline!.headers["herald-delivery-id"]).toBe(`${appId}:1:presence:2:mq`);
    expect(msg!.headers["herald-delivery-id"]).toBe(`${String(sent.id)}:mq`);
  });
});

describe("openim", () => {
  it("sends afterSendSingleMsg for msg.sent in path and query style, with the operationID header", async () => {
    const appId = "oim-single";
    const server = await businessServer();
    await configure({
      appId,
      endpoints: [
        { id: "by-path", url: `${server.url}/openim/`, dialect: "openim" },
        { id: "by-query", url: `${server.url}/cb`, dialect: "openim", openim: { urlStyle: "query" } },
      ],
    });
    const sent = openImSingle(appId);
    await publish(stack.client, [sent]);
    const requests = await server.waitForRequests(2, WAIT);
    const byPath = requests.find((r) => r.path.startsWith("/openim"));
    const byQuery = requests.find((r) => r.path === "/cb");

    expect(byPath?.url).toBe("/openim/callbackAfterSendSingleMsgCommand?contenttype=json");
    expect(byQuery?.url).toBe("/cb?command=callbackAfterSendSingleMsgCommand&contenttype=json");
    for (const [req, endpointId] of [
      [byPath!, "by-path"],
      [byQuery!, "by-query"],
    ] as const) {
      expect(req.text).toBe(openImSingleBody(String(sent.operationId)));
      const parsed = expectOpenIm(req, sent, endpointId, "callbackAfterSendSingleMsgCommand");
      expect(parsed.body).toMatchObject({
        sendID: "u-send",
        recvID: "u-recv",
        operationID: sent.operationId,
      });
    }
  });

  it("sends afterSendGroupMsg with groupID for a group message", async () => {
    const appId = "oim-group";
    const server = await businessServer();
    await configure({ appId, endpoints: [{ id: "oim", url: `${server.url}/hooks`, dialect: "openim" }] });
    const sent = message(appId, {
      messageId: "srv-g",
      clientMsgId: "cli-g",
      fromUserId: "u-send",
      groupId: "g-42",
      content: '{"content":"all"}',
      contentType: 101,
      atUserIds: ["u-a", "u-b"],
      sentAt: new Date(1_700_000_001_000),
    });
    await publish(stack.client, [sent]);
    const [req] = await server.waitForRequests(1, WAIT);

    expect(req?.url).toBe("/hooks/callbackAfterSendGroupMsgCommand?contenttype=json");
    expect(req?.text).toBe(
      `{"sendID":"u-send","callbackCommand":"callbackAfterSendGroupMsgCommand","serverMsgID":"srv-g",` +
        `"clientMsgID":"cli-g","operationID":"${String(sent.operationId)}","senderPlatformID":0,` +
        `"senderNickname":"","sessionType":3,"msgFrom":100,"contentType":101,"status":2,` +
        `"sendTime":1700000001000,"createTime":1700000001000,"content":"{\\"content\\":\\"all\\"}","seq":0,` +
        `"atUserList":["u-a","u-b"],"faceURL":"","ex":"","groupID":"g-42"}`,
    );
    const parsed = expectOpenIm(req!, sent, "oim", "callbackAfterSendGroupMsgCommand");
    expect(parsed.body).not.toHaveProperty("recvID");
  });

  it("sends the user-level online and offline callbacks with seed 002's command names and keys", async () => {
    const appId = "oim-presence";
    const server = await businessServer();
    // The user's change, chosen by eventTypes (the default is one callback per connection: delivery-seed-rules).
    await configure({
      appId,
      endpoints: [
        {
          id: "oim",
          url: `${server.url}/cb`,
          dialect: "openim",
          openim: { urlStyle: "query" },
          eventTypes: ["user.online", "user.offline"],
        },
      ],
    });
    const on = connOnline(appId, "user123", "conn123", 1_700_000_002_000);
    await publish(stack.client, [on]);
    const [online] = await server.waitForRequests(1, WAIT);
    const off = connOffline(appId, "user123", "conn123", 1_700_000_003_000);
    await publish(stack.client, [off]);
    const offline = (await server.waitForRequests(2, WAIT))[1];

    // Seed 002: https://callbackurl?command=$CallbackCommand&contenttype=json
    expect(online?.url).toBe("/cb?command=callbackUserOnlineCommand&contenttype=json");
    expect(online?.text).toBe(
      `{"userID":"user123","callbackCommand":"callbackUserOnlineCommand","seq":1,"isAppBackground":false,` +
        `"connID":"conn123","platformID":2,"platform":"Android","operationID":"${String(on.operationId)}"}`,
    );
    expect(offline?.url).toBe("/cb?command=callbackUserOfflineCommand&contenttype=json");
    expect(offline?.text).toBe(
      `{"userID":"user123","callbackCommand":"callbackUserOfflineCommand","seq":2,"connID":"conn123",` +
        `"platformID":2,"platform":"Android","operationID":"${String(off.operationId)}"}`,
    );
    const derivedOn = { id: `${appId}:user123:presence:1`, operationId: on.operationId };
    const derivedOff = { id: `${appId}:user123:presence:2`, operationId: off.operationId };
    expectOpenIm(online!, derivedOn, "oim", "callbackUserOnlineCommand");
    expectOpenIm(offline!, derivedOff, "oim", "callbackUserOfflineCommand");
  });

  it("sends an enabled after-hook of the app's webhooks to openim.url, with no endpoint configured", async () => {
    const appId = "oim-implied";
    const server = await businessServer();
    await configure({
      appId,
      openim: { url: `${server.url}/callbackExample`, hooks: { afterSendSingleMsg: { enable: true } } },
      endpoints: [],
    } as unknown as AppInput);
    const sent = openImSingle(appId);
    await publish(stack.client, [sent]);
    const [req] = await server.waitForRequests(1, WAIT);

    // Seed 004: {WEBHOOK_ADDRESS}/callbackCommand?contenttype=json
    expect(req?.url).toBe("/callbackExample/callbackAfterSendSingleMsgCommand?contenttype=json");
    expect(req?.text).toBe(openImSingleBody(String(sent.operationId)));
    expectOpenIm(req!, sent, "openim", "callbackAfterSendSingleMsgCommand");
  });

  it("sends nothing for a disabled after-hook of the app's webhooks", async () => {
    const appId = "oim-disabled";
    const server = await businessServer();
    await configure({
      appId,
      openim: {
        url: `${server.url}/callbackExample`,
        hooks: { afterSendSingleMsg: { enable: false }, afterSendGroupMsg: { enable: true } },
      },
      endpoints: [],
    } as unknown as AppInput);
    const jobs = await watchJobs(appId);
    const single = openImSingle(appId);
    const group = message(appId, {
      messageId: "srv-g2",
      fromUserId: "u-send",
      groupId: "g-1",
      contentType: 101,
    });
    // The disabled hook's event first: once the enabled one after it is routed and sent, so would it be.
    await publish(stack.client, [single]);
    await publish(stack.client, [group]);
    const [req] = await server.waitForRequests(1, WAIT);
    await routed();
    await pause(500);
    jobs.stop();

    expect(req?.headers["herald-delivery-id"]).toBe(`${String(group.id)}:openim`);
    expect(req?.url).toBe("/callbackExample/callbackAfterSendGroupMsgCommand?contenttype=json");
    expect(server.requests).toHaveLength(1);
    expect(jobs.ids).toEqual([`${appId}:${String(group.id)}:openim`]);
    const records = await attemptRecords(stack);
    expect(records.filter((r) => r.eventId === single.id)).toEqual([]);
  });

  it("does not send a message that an explicit endpoint's deniedTypes or attentionIds filter out", async () => {
    const appId = "oim-filter";
    const server = await businessServer();
    await configure({
      appId,
      endpoints: [
        {
          id: "oim",
          url: `${server.url}/hooks`,
          dialect: "openim",
          filter: { deniedTypes: [[1500, 1600]], attentionIds: ["vip"] },
        },
      ],
    });
    const deniedType = message(appId, {
      messageId: "m-denied",
      fromUserId: "vip",
      toUserId: "u2",
      contentType: 1501,
    });
    const notWatched = message(appId, {
      messageId: "m-other",
      fromUserId: "u1",
      toUserId: "u2",
      contentType: 101,
    });
    const passes = message(appId, {
      messageId: "m-pass",
      fromUserId: "u1",
      toUserId: "vip",
      contentType: 101,
    });
    const jobs = await watchJobs(appId);
    await publish(stack.client, [deniedType, notWatched]);
    await publish(stack.client, [passes]);
    const [req] = await server.waitForRequests(1, WAIT);
    await routed();
    await pause(500);
    jobs.stop();

    expect(server.requests).toHaveLength(1);
    expect(req?.headers["herald-delivery-id"]).toBe(`${String(passes.id)}:oim`);
    expect(expectOpenIm(req!, passes, "oim", "callbackAfterSendSingleMsgCommand").body).toMatchObject({
      serverMsgID: "m-pass",
    });
    expect(jobs.ids).toEqual([`${appId}:${String(passes.id)}:oim`]);
  });
});

describe("standard", () => {
  it("signs with webhook-id <eventId>:<endpointId> and sends {type, timestamp, data}", async () => {
    const appId = "std-bytes";
    const key = secret(11);
    const server = await businessServer();
    await configure({
      appId,
      endpoints: [
        { id: "std", url: `${server.url}/hook?x=1`, dialect: "standard", secrets: [{ value: key }] },
      ],
    });
    const sent = message(
      appId,
      {
        messageId: "m1",
        fromUserId: "a",
        toUserId: "b",
        content: "hi",
        contentType: 101,
        seq: 3,
        sentAt: new Date(1_700_000_000_500),
      },
      1_700_000_000_123,
    );
    await publish(stack.client, [sent]);
    const [req] = await server.waitForRequests(1, WAIT);

    expect(req?.method).toBe("POST");
    expect(req?.url).toBe("/hook?x=1");
    expect(req?.headers["content-type"]).toBe("application/json");
    expect(req?.headers["webhook-id"]).toBe(`${String(sent.id)}:std`);
    expect(req?.headers["webhook-timestamp"]).toMatch(/^\d{10}$/);
    expect(req?.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    verifyStandardWebhook({ headers: req!.headers, body: req!.body, secrets: [key] });
    expect(() =>
      verifyStandardWebhook({ headers: req!.headers, body: req!.body, secrets: [secret(12)] }),
    ).toThrow(SignatureError);
    expect(req?.text.startsWith('{"type":"msg.sent","timestamp":"2023-11-14T22:13:20.123Z","data":{')).toBe(
      true,
    );
    expect(parseStandardWebhook(req!.text)).toEqual({
      type: "msg.sent",
      timestamp: "2023-11-14T22:13:20.123Z",
      data: {
        messageId: "m1",
        clientMsgId: "",
        fromUserId: "a",
        toUserId: "b",
        groupId: "",
        type: 0,
        content: "hi",
        p1: "",
        p2: "",
        p3: "",
        contentType: 101,
        sessionType: 0,
        senderPlatformId: 0,
        senderNickname: "",
        senderFaceUrl: "",
        atUserIds: [],
        ex: "",
        seq: 3,
        sentAt: "2023-11-14T22:13:20.500Z",
      },
    });
  });

  it("signs with both secrets during a rotation, and no longer with an expired one", async () => {
    const appId = "std-rotation";
    const [oldKey, newKey, expiredKey] = [secret(21), secret(22), secret(23)];
    const server = await businessServer();
    const hour = 3_600_000;
    await configure({
      appId,
      endpoints: [
        {
          id: "rotating",
          url: `${server.url}/rotating`,
          dialect: "standard",
          secrets: [
            { value: oldKey, expiresAt: new Date(Date.now() + hour).toISOString() },
            { value: newKey },
          ],
        },
        {
          id: "rotated",
          url: `${server.url}/rotated`,
          dialect: "standard",
          secrets: [
            { value: expiredKey, expiresAt: new Date(Date.now() - hour).toISOString() },
            { value: newKey },
          ],
        },
      ],
    });
    await publish(stack.client, [message(appId, { messageId: "m-rot", fromUserId: "a", toUserId: "b" })]);
    const requests = await server.waitForRequests(2, WAIT);
    const rotating = requests.find((r) => r.path === "/rotating")!;
    const rotated = requests.find((r) => r.path === "/rotated")!;

    const entries = (req: RecordedRequest) => (req.headers["webhook-signature"] ?? "").split(" ");
    expect(entries(rotating)).toHaveLength(2);
    expect(entries(rotating).every((e) => e.startsWith("v1,"))).toBe(true);
    expect(entries(rotating)[0]).not.toBe(entries(rotating)[1]);
    for (const key of [oldKey, newKey]) {
      verifyStandardWebhook({ headers: rotating.headers, body: rotating.body, secrets: [key] });
      // Each signature verifies on its own: drop the other and the remaining one still matches this key.
      const own = entries(rotating).filter((entry) => {
        try {
          verifyStandardWebhook({
            headers: { ...rotating.headers, "webhook-signature": entry },
            body: rotating.body,
            secrets: [key],
          });
          return true;
        } catch {
          return false;
        }
      });
      expect(own).toHaveLength(1);
    }

    expect(entries(rotated)).toHaveLength(1);
    verifyStandardWebhook({ headers: rotated.headers, body: rotated.body, secrets: [newKey] });
    expect(() =>
      verifyStandardWebhook({ headers: rotated.headers, body: rotated.body, secrets: [expiredKey] }),
    ).toThrow(SignatureError);
  });

  it("keeps the delivery id across attempts: a 500 then a 200 carry the same webhook-id, both signed", async () => {
    const appId = "std-retry";
    const key = secret(31);
    const server = await businessServer();
    server.reply({ status: 500, body: "try again" });
    await configure({
      appId,
      endpoints: [
        {
          id: "std",
          url: `${server.url}/hook`,
          dialect: "standard",
          secrets: [{ value: key }],
          retry: { scheduleMs: [100], jitter: 0 },
        },
      ],
    });
    const sent = message(appId, { messageId: "m-retry", fromUserId: "a", toUserId: "b" });
    await publish(stack.client, [sent]);
    const [first, second] = await server.waitForRequests(2, WAIT);

    const deliveryId = `${String(sent.id)}:std`;
    for (const req of [first!, second!]) {
      expect(req.headers["webhook-id"]).toBe(deliveryId);
      verifyStandardWebhook({ headers: req.headers, body: req.body, secrets: [key] });
    }
    expect(second!.text).toBe(first!.text);
    await waitFor(
      async () => (await attemptRecords(stack)).filter((r) => r.eventId === sent.id).length >= 2,
      {
        timeoutMs: 10_000,
        what: "both attempt records",
      },
    );
    const records = (await attemptRecords(stack)).filter((r) => r.eventId === sent.id);
    expect(records.map((r) => [r.attempt, r.status, r.outcome, r.deliveryId])).toEqual([
      [1, 500, "retry", deliveryId],
      [2, 200, "delivered", deliveryId],
    ]);
  });
});

describe("rongcloud", () => {
  const keys = { appKey: "someappKey", appSecret: "s3cr3t-app" };
  const SIGNED_QUERY = /^\?appKey=someappKey&timestamp=(\d{13})&nonce=(\d+)&signature=([0-9a-f]{40})$/;

  function expectSigned(req: RecordedRequest, path: string): void {
    expect(req.method).toBe("POST");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.url.startsWith(`${path}?`)).toBe(true);
    expect(req.url.slice(path.length)).toMatch(SIGNED_QUERY);
    verifyRongCloud({ url: req.url, appSecret: keys.appSecret, appKey: keys.appKey });
    expect(() => verifyRongCloud({ url: req.url, appSecret: "another-secret" })).toThrow(SignatureError);
  }

  it("sends a room's status records as seed 001's JSON array, a lone record after the linger", async () => {
    const appId = "rc-room";
    const server = await businessServer();
    await configure({
      appId,
      endpoints: [
        { id: "rc", url: `${server.url}/chatroom_status_sync.php`, dialect: "rongcloud", rongcloud: keys },
      ],
    });
    await publish(stack.client, [roomCreated(appId, "destory_12", 1_574_476_797_772)]);
    const [created] = await server.waitForRequests(1, WAIT);
    await publish(stack.client, [roomJoined(appId, "destory_12", 1_574_476_797_999, "gggg", "hhhh")]);
    const joined = (await server.waitForRequests(2, WAIT))[1];

    expect(created?.text).toBe(
      '[{"chatRoomId":"destory_12","userIds":[],"status":0,"type":0,"time":1574476797772}]',
    );
    expect(joined?.text).toBe(
      '[{"chatRoomId":"destory_12","userIds":["gggg","hhhh"],"status":0,"type":1,"time":1574476797999}]',
    );
    for (const req of [created!, joined!]) {
      expectSigned(req, "/chatroom_status_sync.php");
      expect(parseRongCloudChatroomBatch(req.text)).toHaveLength(1);
      expect(req.headers["herald-delivery-id"]).toMatch(/^[^,]+:rc$/);
    }
  });

  it("sends user online and offline records from presence to an endpoint that asks for them", async () => {
    const appId = "rc-presence";
    const server = await businessServer();
    // RongCloud's online status URL: without eventTypes an endpoint is its chatroom status URL.
    await configure({
      appId,
      endpoints: [
        {
          id: "rc",
          url: `${server.url}/status`,
          dialect: "rongcloud",
          rongcloud: keys,
          eventTypes: ["user.online", "user.offline"],
        },
      ],
    });
    await publish(stack.client, [connOnline(appId, "u1", "sess-1", 1_700_000_004_000, "10.0.0.7")]);
    const [online] = await server.waitForRequests(1, WAIT);
    await publish(stack.client, [connOffline(appId, "u1", "sess-1", 1_700_000_005_000)]);
    const offline = (await server.waitForRequests(2, WAIT))[1];

    expect(online?.text).toBe(
      '[{"userid":"u1","status":"0","os":"Android","time":1700000004000,"clientIp":"10.0.0.7","sessionId":"sess-1"}]',
    );
    expect(offline?.text).toBe(
      '[{"userid":"u1","status":"2","os":"Android","time":1700000005000,"clientIp":"","sessionId":"sess-1"}]',
    );
    expect(online?.headers["herald-delivery-id"]).toBe(`${appId}:u1:presence:1:rc`);
    expect(offline?.headers["herald-delivery-id"]).toBe(`${appId}:u1:presence:2:rc`);
    for (const req of [online!, offline!]) expectSigned(req, "/status");
  });

  it("batches records: at most maxRecords a request, every record sent once", async () => {
    const appId = "rc-batch";
    const server = await businessServer();
    await configure({
      appId,
      endpoints: [
        {
          id: "rc",
          url: `${server.url}/sync?tenant=t1`,
          dialect: "rongcloud",
          rongcloud: keys,
          batch: { maxRecords: 5, maxLingerMs: 300 },
        },
      ],
    });
    const roomIds = Array.from({ length: 12 }, (_, i) => `room-${String(i).padStart(2, "0")}`);
    await publish(
      stack.client,
      roomIds.map((roomId, i) => roomCreated(appId, roomId, 1_700_000_010_000 + i)),
    );
    await waitFor(
      () => server.requests.reduce((sum, r) => sum + parseRongCloudChatroomBatch(r.text).length, 0) >= 12,
      { timeoutMs: 20_000, what: "all 12 records" },
    );
    await pause(500);

    const batches = server.requests.map((r) => parseRongCloudChatroomBatch(r.text));
    expect(batches.every((b) => b.length >= 1 && b.length <= 5)).toBe(true);
    expect(batches.some((b) => b.length > 1)).toBe(true);
    const records = batches.flat().sort((a, b) => a.chatRoomId.localeCompare(b.chatRoomId));
    expect(records).toEqual(
      roomIds.map((chatRoomId, i) => ({
        chatRoomId,
        userIds: [],
        status: 0,
        type: 0,
        time: 1_700_000_010_000 + i,
      })),
    );
    const ids: string[] = [];
    for (const req of server.requests) {
      expect(req.path).toBe("/sync");
      expect(req.url.startsWith("/sync?tenant=t1&appKey=")).toBe(true);
      verifyRongCloud({ url: req.url, appSecret: keys.appSecret, appKey: keys.appKey });
      const deliveryIds = (req.headers["herald-delivery-id"] ?? "").split(", ");
      expect(deliveryIds).toHaveLength(parseRongCloudChatroomBatch(req.text).length);
      ids.push(...deliveryIds);
    }
    expect(new Set(ids).size).toBe(12);
    expect(ids.every((id) => id.endsWith(":rc"))).toBe(true);
  });
});

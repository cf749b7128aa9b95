import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeepPartial, Event } from "@herald/proto";
import { readEndpointState } from "@herald/config";
import {
  decodeHeaderId,
  heraldDeliveryIds,
  parseMqttChat,
  parseOpenIm,
  parseRongCloudChatroomBatch,
  parseStandardWebhook,
  verifyRongCloud,
  verifyStandardWebhook,
} from "@herald/receiver";
import { startRecordingServer, waitFor, type RecordedRequest, type RecordingServer } from "@herald/testkit";
import { publish } from "./grpc-client.js";
import { configureApp, startDeliveryStack, waitForAttempts, type DeliveryStack } from "./delivery-fixture.js";

// Chat apps' users and rooms are named in any script. Their ids travel in JSON bodies unchanged and in
// headers (derived event ids `<app>:<user>:presence:<seq>`, delivery ids) in their percent-encoded form,
// which every dialect's receiver reads back; none of them may cost a delivery.

const USERS = ["李四", "🙂👩‍💻", "مستخدم"];
const ROOMS = ["聊天室", "🎉房间🙂", "غرفة"];
const WAIT = { timeoutMs: 20_000 };
const SECRET = `whsec_${Buffer.alloc(32, 9).toString("base64")}`;
const RC_KEYS = { appKey: "uniKey", appSecret: "uni-secret" };

let stack: DeliveryStack;
const servers: RecordingServer[] = [];

beforeAll(async () => {
  stack = await startDeliveryStack({ also: ["presence", "chatroom"] });
}, 90_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await stack?.stop();
});

async function businessServer(): Promise<RecordingServer> {
  const server = await startRecordingServer();
  servers.push(server);
  return server;
}

let n = 0;
function event(appId: string, payload: DeepPartial<Event>["payload"]): DeepPartial<Event> {
  n += 1;
  return { id: `uni-${process.pid}-${n}`, appId, operationId: `op-uni-${n}`, payload };
}
const online = (appId: string, userId: string) =>
  event(appId, {
    $case: "connectionOnline",
    value: { userId, connId: `c-${n}`, platformId: 2, platform: "Android", nodeId: "core-1" },
  });
const roomCreated = (appId: string, roomId: string) =>
  event(appId, { $case: "roomCreated", value: { roomId } });
const roomJoined = (appId: string, roomId: string, userIds: string[]) =>
  event(appId, { $case: "roomJoined", value: { roomId, userIds } });

/** Every header value is a legal HTTP field value: visible ASCII and spaces. */
function expectLegalHeaders(req: RecordedRequest): void {
  for (const [name, value] of Object.entries(req.headers)) {
    expect(value, `header ${name}`).toMatch(/^[\x20-\x7e]*$/);
  }
}

const presenceId = (appId: string, userId: string, endpointId: string) =>
  `${appId}:${userId}:presence:1:${endpointId}`;

async function expectActive(appId: string, endpointId: string): Promise<void> {
  const state = await readEndpointState(stack.bus, appId, endpointId);
  expect(state?.state.state ?? "active").toBe("active");
}

describe.each(["mqttchat", "openim", "standard"] as const)("%s", (dialect) => {
  it("delivers presence of users named in any script, ids readable from the headers", async () => {
    const appId = `uni-${dialect}`;
    const server = await businessServer();
    const endpoint = {
      id: "ep",
      url: `${server.url}/cb`,
      dialect,
      ...(dialect === "standard" ? { secrets: [{ value: SECRET }] } : {}),
      // OpenIM's user-level change: its derived ids carry the user (the default, per connection, carries the chat core's).
      ...(dialect === "openim"
        ? { openim: { urlStyle: "query" }, eventTypes: ["user.online", "user.offline"] }
        : {}),
    };
    await configureApp(stack, { appId, endpoints: [endpoint] });
    const events = USERS.map((user) => online(appId, user));
    await publish(stack.client, events);
    const requests = await server.waitForRequests(USERS.length, WAIT);

    const seen = new Map<string, RecordedRequest>();
    for (const req of requests) {
      expectLegalHeaders(req);
      const user = userOf(dialect, req);
      seen.set(user, req);
      const ids =
        dialect === "standard"
          ? [decodeHeaderId(req.headers["webhook-id"] ?? "", "webhook-id")]
          : heraldDeliveryIds(req.headers);
      expect(ids).toEqual([presenceId(appId, user, "ep")]);
      if (dialect === "standard") {
        verifyStandardWebhook({ headers: req.headers, body: req.body, secrets: [SECRET] });
      }
      if (dialect === "openim") {
        const parsed = parseOpenIm({ url: req.url, headers: req.headers, body: req.text });
        expect(parsed.operationId).toBe(events[USERS.indexOf(user)]?.operationId);
      }
    }
    expect([...seen.keys()].sort()).toEqual([...USERS].sort());
    const records = await waitForAttempts(stack, appId, USERS.length);
    expect(records.map((r) => r.outcome)).toEqual(USERS.map(() => "delivered"));
    expect(records.map((r) => r.deliveryId).sort()).toEqual(
      USERS.map((u) => presenceId(appId, u, "ep")).sort(),
    );
    await expectActive(appId, "ep");
  });
});

/** The user a presence callback is about, read from its body as each dialect's receiver does. */
function userOf(dialect: "mqttchat" | "openim" | "standard", req: RecordedRequest): string {
  switch (dialect) {
    case "mqttchat": {
      const parsed = parseMqttChat(req.text);
      if (parsed.kind !== "presence") throw new Error(`not presence: ${req.text}`);
      return String(parsed.presence.userid);
    }
    case "openim":
      return String(parseOpenIm({ url: req.url, headers: req.headers, body: req.text }).body["userID"]);
    case "standard":
      return String(parseStandardWebhook(req.text).data["userId"]);
  }
}

it("mqttchat and openim carry message user and group ids unchanged in the body", async () => {
  const appId = "uni-msg";
  const server = await businessServer();
  await configureApp(stack, {
    appId,
    endpoints: [
      { id: "mq", url: `${server.url}/mq`, dialect: "mqttchat" },
      { id: "oim", url: `${server.url}/oim`, dialect: "openim" },
    ],
  });
  const toUser = event(appId, {
    $case: "messageSent",
    value: {
      messageId: "m-1",
      fromUserId: USERS[0],
      toUserId: USERS[2],
      content: "你好 🙂 مرحبا",
      contentType: 101,
    },
  });
  const toGroup = event(appId, {
    $case: "messageSent",
    value: { messageId: "m-2", fromUserId: USERS[1], groupId: ROOMS[0], content: "hi", contentType: 101 },
  });
  await publish(stack.client, [toUser, toGroup]);
  const requests = await server.waitForRequests(4, WAIT);
  for (const req of requests) expectLegalHeaders(req);
  const mq = requests.filter((r) => r.path === "/mq").map((r) => parseMqttChat(r.text));
  expect(
    mq.map((m) => (m.kind === "message" ? [m.message.from_userid, m.message.to_userid] : [])).sort(),
  ).toEqual(
    [
      [USERS[0], USERS[2]],
      [USERS[1], ROOMS[0]],
    ].sort(),
  );
  const oim = requests
    .filter((r) => r.path.startsWith("/oim"))
    .map((r) => parseOpenIm({ url: r.url, headers: r.headers, body: r.text }).body);
  expect(oim.find((b) => b["recvID"] === USERS[2])?.["sendID"]).toBe(USERS[0]);
  expect(oim.find((b) => b["groupID"] === ROOMS[0])?.["sendID"]).toBe(USERS[1]);
  expect(oim.find((b) => b["recvID"] === USERS[2])?.["content"]).toBe("你好 🙂 مرحبا");
});

it("standard and rongcloud carry room ids unchanged, signed", async () => {
  const appId = "uni-rooms";
  const server = await businessServer();
  await configureApp(stack, {
    appId,
    endpoints: [
      { id: "std", url: `${server.url}/std`, dialect: "standard", secrets: [{ value: SECRET }] },
      { id: "rc", url: `${server.url}/rc`, dialect: "rongcloud", rongcloud: RC_KEYS },
    ],
  });
  await publish(
    stack.client,
    ROOMS.map((room) => roomCreated(appId, room)),
  );
  await publish(stack.client, [roomJoined(appId, ROOMS[0]!, USERS)]);
  let rcRecords: ReturnType<typeof parseRongCloudChatroomBatch> = [];
  await waitFor(
    () => {
      rcRecords = server.requests
        .filter((r) => r.path === "/rc")
        .flatMap((r) => parseRongCloudChatroomBatch(r.text));
      const std = server.requests.filter((r) => r.path === "/std");
      return rcRecords.length >= 4 && std.length >= 4;
    },
    { ...WAIT, what: "4 room records at each endpoint" },
  );
  for (const req of server.requests) {
    expectLegalHeaders(req);
    if (req.path === "/rc")
      verifyRongCloud({ url: req.url, appSecret: RC_KEYS.appSecret, appKey: RC_KEYS.appKey });
    else verifyStandardWebhook({ headers: req.headers, body: req.body, secrets: [SECRET] });
  }
  expect(
    rcRecords
      .filter((r) => r.type === 0)
      .map((r) => r.chatRoomId)
      .sort(),
  ).toEqual([...ROOMS].sort());
  expect(rcRecords.find((r) => r.type === 1)).toMatchObject({ chatRoomId: ROOMS[0], userIds: USERS });
  const std = server.requests.filter((r) => r.path === "/std").map((r) => parseStandardWebhook(r.text).data);
  expect(std.map((d) => d["roomId"]).sort()).toEqual([...ROOMS, ROOMS[0]].sort());
});

it("rongcloud: a batch of 51 records with one CJK user is delivered whole", async () => {
  const appId = "uni-rc-batch";
  const server = await businessServer();
  await configureApp(stack, {
    appId,
    endpoints: [
      {
        id: "rc",
        url: `${server.url}/status`,
        dialect: "rongcloud",
        rongcloud: RC_KEYS,
        eventTypes: ["user.online", "user.offline"],
        batch: { maxRecords: 51, maxLingerMs: 1000 },
      },
    ],
  });
  const users = [...Array.from({ length: 50 }, (_, i) => `user-${i}`), USERS[0]!];
  await publish(
    stack.client,
    users.map((user) => online(appId, user)),
  );
  const records = await waitForAttempts(stack, appId, users.length);
  expect(records.map((r) => r.outcome)).toEqual(users.map(() => "delivered"));
  const ids: string[] = [];
  const userids: string[] = [];
  for (const req of server.requests) {
    expectLegalHeaders(req);
    verifyRongCloud({ url: req.url, appSecret: RC_KEYS.appSecret, appKey: RC_KEYS.appKey });
    const batch = JSON.parse(req.text) as Array<{ userid: string }>;
    const deliveryIds = heraldDeliveryIds(req.headers);
    expect(deliveryIds).toHaveLength(batch.length);
    ids.push(...deliveryIds);
    userids.push(...batch.map((r) => r.userid));
  }
  expect(userids.sort()).toEqual([...users].sort());
  expect(ids.sort()).toEqual(users.map((u) => presenceId(appId, u, "rc")).sort());
});

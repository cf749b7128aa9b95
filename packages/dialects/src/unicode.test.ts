import { createHmac } from "node:crypto";
import { Event, type DeepPartial } from "@herald/proto";
import { describe, expect, it } from "vitest";
import { headerId } from "./header-id.js";
import { renderMqttChatMessage } from "./mqttchat/message.js";
import { renderMqttChatPresence } from "./mqttchat/presence.js";
import { renderOpenImBefore } from "./openim/before.js";
import { renderOpenImAfter } from "./openim/after.js";
import { renderRongCloudChatroomBatch, rongCloudChatroomRecord } from "./rongcloud/chatroom.js";
import { rongCloudPresenceRecord } from "./rongcloud/presence.js";
import { renderStandardWebhook } from "./standard/render.js";

// Every dialect with user and room ids in CJK, emoji (a ZWJ sequence) and RTL script: bodies carry the
// ids as UTF-8 JSON, unchanged; headers carry only their header form (headerId).

const CJK = "李四";
const EMOJI = "🙂👩‍💻";
const RTL = "مستخدم";
const ROOM = "聊天室🙂غرفة";
const AT = new Date("2024-01-02T03:04:05.000Z");
const HEADER_SAFE = /^[\x21-\x7e]+( [\x21-\x7e]+)*$/;

function event(id: string, payload: DeepPartial<Event>["payload"], operationId = "op-1"): Event {
  return Event.fromPartial({ id, appId: "app1", occurredAt: AT, operationId, payload });
}
const online = (userId: string) =>
  event(`app1:${userId}:presence:1`, {
    $case: "userOnline",
    value: { userId, seq: 1, connId: "c1", platformId: 5, platform: "Web" },
  });
const sent = event("m-1", {
  $case: "messageSent",
  value: { messageId: "9", fromUserId: CJK, toUserId: RTL, content: EMOJI, sentAt: AT },
});
const roomJoined = event("app1:room-joined:7", {
  $case: "roomStatus",
  value: { roomId: ROOM, userIds: [CJK, EMOJI, RTL], status: 0, kind: 1, time: AT.getTime() },
});

function expectHeadersSafe(headers: Readonly<Record<string, string>>): void {
  for (const value of Object.values(headers)) expect(value).toMatch(HEADER_SAFE);
}

describe("mqttchat", () => {
  it("writes Unicode user ids as JSON strings", () => {
    expect(renderMqttChatPresence(online(EMOJI))).toBe(
      '{"userid":"🙂👩‍💻","status":"online","timestamp":1704164645}',
    );
    expect(renderMqttChatMessage(sent)).toBe(
      '{"from_userid":"李四","message":{"id":9,"message":"🙂👩‍💻","p1":"","p2":"","p3":"","timestamp":1704164645,"type":0},"to_userid":"مستخدم"}',
    );
  });
});

describe("openim", () => {
  const opts = { baseUrl: "https://im.example.com/cb", urlStyle: "query", naming: "seed" } as const;

  it("keeps ids in the body and puts only the header form of the operation id in the header", () => {
    const spec = renderOpenImAfter(online(RTL), opts)!;
    expect(JSON.parse(spec.body)).toMatchObject({ userID: RTL, operationID: "op-1" });
    expect(spec.body).toContain('"userID":"مستخدم"');
    expectHeadersSafe(spec.headers);

    const single = renderOpenImAfter(sent, opts)!;
    expect(JSON.parse(single.body)).toMatchObject({ sendID: CJK, recvID: RTL, content: EMOJI });
  });

  it("sends a Unicode operation id as is in the body, percent-encoded in the operationID header", () => {
    const spec = renderOpenImBefore({
      baseUrl: "https://im.example.com/cb",
      urlStyle: "path",
      command: "callbackBeforeSendSingleMsgCommand",
      operationId: `操作-${EMOJI}`,
      payload: { sendID: CJK, recvID: RTL },
    });
    expect(spec.headers).toStrictEqual({
      "content-type": "application/json",
      operationid: "%E6%93%8D%E4%BD%9C-%F0%9F%99%82%F0%9F%91%A9%E2%80%8D%F0%9F%92%BB",
    });
    expect(spec.body).toBe(
      `{"sendID":"李四","recvID":"مستخدم","callbackCommand":"callbackBeforeSendSingleMsgCommand","operationID":"操作-🙂👩‍💻"}`,
    );
  });
});

describe("rongcloud", () => {
  it("writes Unicode user and room ids into the records unchanged", () => {
    expect(JSON.stringify(rongCloudPresenceRecord(online(CJK)))).toBe(
      '{"userid":"李四","status":"0","os":"Websocket","time":1704164645000,"clientIp":"","sessionId":"c1"}',
    );
    expect(renderRongCloudChatroomBatch([rongCloudChatroomRecord(roomJoined)!])).toBe(
      '[{"chatRoomId":"聊天室🙂غرفة","userIds":["李四","🙂👩‍💻","مستخدم"],"status":0,"type":1,"time":1704164645000}]',
    );
  });
});

describe("standard", () => {
  const key = Buffer.alloc(32, 7);
  const secret = `whsec_${key.toString("base64")}`;

  it("sends webhook-id in its header form and signs that exact value", () => {
    const deliveryId = `app1:${CJK}:presence:1:std`;
    const spec = renderStandardWebhook({
      event: online(CJK),
      msgId: deliveryId,
      timestampSeconds: 1704164645,
      secrets: [secret],
      url: "https://example.com/h",
    });
    const webhookId = "app1:%E6%9D%8E%E5%9B%9B:presence:1:std";
    expect(spec.headers["webhook-id"]).toBe(webhookId);
    expect(decodeURIComponent(webhookId)).toBe(deliveryId);
    const mac = createHmac("sha256", key).update(`${webhookId}.1704164645.${spec.body}`).digest("base64");
    expect(spec.headers["webhook-signature"]).toBe(`v1,${mac}`);
    expectHeadersSafe(spec.headers);
    expect(JSON.parse(spec.body)).toMatchObject({ type: "user.online", data: { userId: CJK } });
  });

  it("signs a delivery id with dots and Unicode room ids alike", () => {
    const spec = renderStandardWebhook({
      event: roomJoined,
      msgId: "evt.1:std",
      timestampSeconds: 1704164645,
      secrets: [secret],
      url: "https://example.com/h",
    });
    expect(spec.headers["webhook-id"]).toBe(headerId("evt.1:std"));
    expect(spec.headers["webhook-id"]).toBe("evt%2E1:std");
    expect(JSON.parse(spec.body)).toMatchObject({ data: { roomId: ROOM, userIds: [CJK, EMOJI, RTL] } });
  });
});

import { readFileSync } from "node:fs";
import { Event, type DeepPartial } from "@herald/proto";
import { describe, expect, it } from "vitest";
import { renderOpenImAfter } from "./after.js";
import { InvalidPassthroughPayloadError } from "./passthrough.js";
import { renderOpenImPresence } from "./presence.js";

// The golden files hold the exact bytes; a text file's one trailing newline is not part of them.
function golden(name: string): string {
  return readFileSync(new URL(`../__golden__/openim/${name}`, import.meta.url), "utf8").replace(/\n$/, "");
}

const BASE_URL = "http://127.0.0.1:10006/callbackExample";
const OPTS = { baseUrl: BASE_URL, urlStyle: "path", naming: "current" } as const;

function event(payload: DeepPartial<Event>["payload"], operationId = "op-1"): Event {
  return Event.fromPartial({
    id: "evt-1",
    appId: "app_1",
    occurredAt: new Date(1602511586_000),
    operationId,
    payload,
  });
}

const message = {
  messageId: "srv-1",
  clientMsgId: "cli-1",
  fromUserId: "u1",
  content: '{"content":"hi"}',
  contentType: 101,
  senderPlatformId: 5,
  senderNickname: "Ann",
  senderFaceUrl: "https://f/a.png",
  ex: "x",
  sentAt: new Date(1602511586_123),
};

describe("renderOpenImAfter msg.sent", () => {
  it("renders afterSendSingleMsg with CommonCallbackReq keys and recvID, byte for byte", () => {
    const spec = renderOpenImAfter(
      event({ $case: "messageSent", value: { ...message, toUserId: "u2" } }),
      OPTS,
    );
    expect(spec?.url).toBe(`${BASE_URL}/callbackAfterSendSingleMsgCommand?contenttype=json`);
    expect(spec?.headers).toStrictEqual({ "content-type": "application/json", operationid: "op-1" });
    expect(spec?.body).toBe(golden("after-send-single.body.txt"));
  });

  it("renders afterSendGroupMsg with groupID, at-users and sessionType 3", () => {
    const value = { ...message, groupId: "g1", atUserIds: ["u3", "u4"], seq: 9 };
    const spec = renderOpenImAfter(event({ $case: "messageSent", value }, ""), {
      ...OPTS,
      urlStyle: "query",
    });
    expect(spec?.url).toBe(`${BASE_URL}?command=callbackAfterSendGroupMsgCommand&contenttype=json`);
    expect(spec?.headers).toStrictEqual({ "content-type": "application/json", operationid: "evt-1" });
    expect(spec?.body).toBe(golden("after-send-group.body.txt"));
  });
});

describe("renderOpenImAfter passthrough and presence", () => {
  it("sends the payload_json with callbackCommand and operationID set, command as given", () => {
    const payloadJson = '{"callbackCommand":"","groupID":"g1","userID":"u1"}';
    const spec = renderOpenImAfter(
      event({ $case: "passthrough", value: { command: "callbackAfterJoinGroupCommand", payloadJson } }),
      OPTS,
    );
    expect(spec?.url).toBe(`${BASE_URL}/callbackAfterJoinGroupCommand?contenttype=json`);
    expect(spec?.body).toBe(
      '{"callbackCommand":"callbackAfterJoinGroupCommand","groupID":"g1","userID":"u1","operationID":"op-1"}',
    );
  });

  it("throws InvalidPassthroughPayloadError for payload_json that is not an object", () => {
    const bad = event({ $case: "passthrough", value: { command: "c", payloadJson: "not json" } });
    expect(() => renderOpenImAfter(bad, OPTS)).toThrow(InvalidPassthroughPayloadError);
  });

  it("delegates presence to renderOpenImPresence and renders nothing for other events", () => {
    const online = event({
      $case: "userOnline",
      value: { userId: "u1", seq: 1, connId: "c", platformId: 5 },
    });
    expect(renderOpenImAfter(online, OPTS)).toStrictEqual(renderOpenImPresence(online, OPTS));
    expect(renderOpenImAfter(online, OPTS)?.url).toContain("callbackAfterUserOnlineCommand");
    expect(renderOpenImAfter(event({ $case: "roomCreated", value: { roomId: "r" } }), OPTS)).toBeUndefined();
  });
});

import { describe, expect, it } from "vitest";
import {
  PayloadError,
  parseMqttChat,
  parseOpenIm,
  parseRongCloudChatroomBatch,
  parseStandardWebhook,
} from "./index.js";

function badField(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof PayloadError) return err.field;
    throw err;
  }
  throw new Error("expected a PayloadError");
}

describe("parseStandardWebhook", () => {
  it("parses {type, timestamp, data}", () => {
    const body =
      '{"type":"user.presence_changed","timestamp":"2022-11-03T20:26:10.344522Z","data":{"userId":"u1"}}';
    expect(parseStandardWebhook(body)).toEqual({
      type: "user.presence_changed",
      timestamp: "2022-11-03T20:26:10.344522Z",
      data: { userId: "u1" },
    });
  });

  it("names the bad field", () => {
    expect(
      badField(() => parseStandardWebhook('{"type":"a b","timestamp":"2022-11-03T20:26:10Z","data":{}}')),
    ).toBe("type");
    expect(badField(() => parseStandardWebhook('{"type":"a.b","timestamp":"yesterday","data":{}}'))).toBe(
      "timestamp",
    );
    expect(
      badField(() => parseStandardWebhook('{"type":"a.b","timestamp":"2022-11-03T20:26:10Z","data":[]}')),
    ).toBe("data");
    expect(badField(() => parseStandardWebhook("{not json"))).toBe("(body)");
  });
});

describe("parseMqttChat", () => {
  it("parses seed 000's presence example", () => {
    expect(parseMqttChat('{"userid":1,"status":"online","timestamp":1602511574}')).toEqual({
      kind: "presence",
      presence: { userid: 1, status: "online", timestamp: 1602511574 },
    });
  });

  it("parses seed 000's message example", () => {
    const body =
      '{"from_userid":2,"message":{"id":138946,"message":"ok","p1":"","p2":"","p3":"","timestamp":1602511586,"type":0},"to_userid":3601}';
    expect(parseMqttChat(body)).toEqual({
      kind: "message",
      message: {
        from_userid: 2,
        to_userid: 3601,
        message: { id: 138946, message: "ok", p1: "", p2: "", p3: "", timestamp: 1602511586, type: 0 },
      },
    });
  });

  it("names the bad field", () => {
    expect(badField(() => parseMqttChat('{"userid":1,"status":"away","timestamp":1602511574}'))).toBe(
      "status",
    );
    expect(badField(() => parseMqttChat('{"userid":1,"status":"online"}'))).toBe("timestamp");
    const badType =
      '{"from_userid":2,"message":{"id":1,"message":"ok","p1":"","p2":"","p3":"","timestamp":1,"type":6},"to_userid":3}';
    expect(badField(() => parseMqttChat(badType))).toBe("message.type");
    const noRecipient =
      '{"from_userid":2,"message":{"id":1,"message":"ok","p1":"","p2":"","p3":"","timestamp":1,"type":0}}';
    expect(badField(() => parseMqttChat(noRecipient))).toBe("to_userid");
  });
});

describe("parseRongCloudChatroomBatch", () => {
  it("parses seed 001's array", () => {
    const body = `[
{
"chatRoomId":"destory_11",
"userIds":["gggg"],
"status":0,
"type":1,
"time":1574476797772
},
{
"chatRoomId":"destory_12",
"userIds":[],
"status":0,
"type":0,
"time":1574476797772
}
]`;
    expect(parseRongCloudChatroomBatch(body)).toEqual([
      { chatRoomId: "destory_11", userIds: ["gggg"], status: 0, type: 1, time: 1574476797772 },
      { chatRoomId: "destory_12", userIds: [], status: 0, type: 0, time: 1574476797772 },
    ]);
  });

  it("names the bad field", () => {
    const record = '{"chatRoomId":"r","userIds":["u"],"status":0,"type":1,"time":1}';
    expect(badField(() => parseRongCloudChatroomBatch(record))).toBe("(root)");
    const badUsers = `[${record},{"chatRoomId":"r","userIds":[7],"status":0,"type":1,"time":1}]`;
    expect(badField(() => parseRongCloudChatroomBatch(badUsers))).toBe("[1].userIds[0]");
    const badType = '[{"chatRoomId":"r","userIds":[],"status":0,"type":4,"time":1}]';
    expect(badField(() => parseRongCloudChatroomBatch(badType))).toBe("[0].type");
  });
});

describe("parseOpenIm", () => {
  const seedBody = `{
"userID": "user123",
"callbackCommand": "callbackUserOnlineCommand",
"seq": 123456,
"isAppBackground": false,
"connID": "conn123"
}`;

  it("parses seed 002's request with the command in the query", () => {
    const parsed = parseOpenIm({
      url: "https://callbackurl?command=callbackUserOnlineCommand&contenttype=json",
      headers: { operationID: "1646445464564" },
      body: seedBody,
    });
    expect(parsed).toEqual({
      command: "callbackUserOnlineCommand",
      operationId: "1646445464564",
      body: {
        userID: "user123",
        callbackCommand: "callbackUserOnlineCommand",
        seq: 123456,
        isAppBackground: false,
        connID: "conn123",
      },
    });
  });

  it("reads the command from the last path segment and the Go-canonical Operationid header", () => {
    const body = '{"callbackCommand":"callbackAfterUserOfflineCommand","userID":"u1","platformID":5}\n';
    const parsed = parseOpenIm({
      url: "/hooks/openim/callbackAfterUserOfflineCommand?contenttype=json",
      headers: { Operationid: "p_12_3" },
      body,
    });
    expect(parsed.command).toBe("callbackAfterUserOfflineCommand");
    expect(parsed.operationId).toBe("p_12_3");
    expect(parsed.body["platformID"]).toBe(5);
  });

  it("rejects a command that differs from the body's callbackCommand", () => {
    const run = () =>
      parseOpenIm({
        url: "/cb/callbackAfterUserOfflineCommand",
        headers: { operationid: "1" },
        body: seedBody,
      });
    expect(badField(run)).toBe("callbackCommand");
  });

  it("names the bad field", () => {
    const url = "/cb/callbackUserOnlineCommand";
    expect(badField(() => parseOpenIm({ url, headers: {}, body: seedBody }))).toBe("operationID");
    expect(badField(() => parseOpenIm({ url, headers: { operationid: "1" }, body: '{"userID":"u"}' }))).toBe(
      "callbackCommand",
    );
    expect(badField(() => parseOpenIm({ url, headers: { operationid: "1" }, body: "[]" }))).toBe("(root)");
    expect(
      badField(() => parseOpenIm({ url: "https://h/", headers: { operationid: "1" }, body: seedBody })),
    ).toBe("command");
  });
});

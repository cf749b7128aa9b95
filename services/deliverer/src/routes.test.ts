import { describe, expect, it } from "vitest";
import { OPENIM_WEBHOOKS_ENDPOINT_ID, validateAppConfig } from "@herald/config";
import { Event, type DeepPartial } from "@herald/proto";
import { endpointsOf, routeEvent } from "./routes.js";

const SECRET = `whsec_${Buffer.alloc(32, 1).toString("base64")}`;

function encode(event: DeepPartial<Event>): Uint8Array {
  return Event.encode(Event.fromPartial({ id: "e1", appId: "a", ...event })).finish();
}

const message = (fields: Record<string, unknown>) =>
  encode({
    payload: {
      $case: "messageSent",
      value: { fromUserId: "u1", toUserId: "u2", contentType: 101, ...fields },
    },
  });

const ids = (app: Parameters<typeof routeEvent>[0], type: string, data: Uint8Array) =>
  routeEvent(app, type, data).map((e) => e.id);

describe("routeEvent and what a dialect can say", () => {
  it("makes no job for an event of a rendered type that the dialect cannot say (a tencent room creation)", () => {
    const app = validateAppConfig({
      appId: "a",
      endpoints: [
        { id: "tc", url: "https://example.com/t", dialect: "tencent", tencent: { sdkAppId: "1400000001" } },
      ],
    });
    const room = (kind: number) =>
      encode({ payload: { $case: "roomStatus", value: { roomId: "r", userIds: ["u"], kind } } });
    expect(ids(app, "room.status", room(0))).toEqual([]);
    expect(ids(app, "room.status", room(1))).toEqual(["tc"]);
  });
});

describe("routeEvent", () => {
  const app = validateAppConfig({
    appId: "a",
    endpoints: [
      {
        id: "all",
        url: "https://example.com/all",
        dialect: "standard",
        secrets: [{ value: SECRET }],
        eventTypes: ["*"],
      },
      { id: "presence", url: "https://example.com/p", dialect: "mqttchat", eventTypes: ["user.*"] },
      { id: "messages", url: "https://example.com/m", dialect: "mqttchat", eventTypes: ["msg.sent"] },
      {
        id: "rooms",
        url: "https://example.com/r",
        dialect: "rongcloud",
        rongcloud: { appKey: "k", appSecret: "s" },
      },
      {
        id: "filtered",
        url: "https://example.com/f",
        dialect: "openim",
        filter: { deniedTypes: [[110, 120]], allowedTypes: [], attentionIds: ["u9"] },
      },
    ],
  });

  it("sends each endpoint the types it takes and its dialect can say", () => {
    expect(ids(app, "msg.sent", message({}))).toEqual(["all", "messages"]);
    expect(
      ids(app, "user.online", encode({ payload: { $case: "userOnline", value: { userId: "u1" } } })),
      // A rongcloud endpoint without eventTypes is a chatroom status URL: room records only.
    ).toEqual(["all", "presence"]);
    // mqttchat takes user.* here, but has no background callback.
    expect(ids(app, "user.background", encode({ payload: { $case: "userBackground", value: {} } }))).toEqual([
      "all",
    ]);
    // OpenIM's online callback is per connection login, as OpenIM sends it.
    expect(ids(app, "conn.online", encode({}))).toEqual(["all", "filtered"]);
    // Per connection, the user's offline goes to OpenIM only for a node reset (no conn.offline came).
    const offline = (nodeReset: boolean) =>
      encode({ payload: { $case: "userOffline", value: { userId: "u9", nodeReset } } });
    expect(ids(app, "user.offline", offline(false))).toEqual(["all", "presence"]);
    expect(ids(app, "user.offline", offline(true))).toEqual(["all", "filtered", "presence"]);
  });

  it("applies OpenIM's filters: denied content types and attention ids", () => {
    expect(ids(app, "msg.sent", message({ fromUserId: "u9" }))).toEqual(["all", "filtered", "messages"]);
    expect(ids(app, "msg.sent", message({ fromUserId: "u9", contentType: 115 }))).toEqual([
      "all",
      "messages",
    ]);
  });
});

describe("the endpoint implied by webhooks.yml", () => {
  const withHooks = (hooks: Record<string, unknown>, endpoints: unknown[] = []) =>
    validateAppConfig({
      appId: "a",
      openim: { url: "https://im.example.com/cb", urlStyle: "query", hooks },
      endpoints,
    });

  it("exists for an enabled after-hook, in the app's URL style, and not for a synchronous before-hook", () => {
    expect(endpointsOf(withHooks({ beforeSendSingleMsg: { enable: true } }))).toEqual([]);
    const [implied] = endpointsOf(withHooks({ afterSendSingleMsg: { enable: true, timeout: 3 } }));
    expect(implied).toMatchObject({
      id: OPENIM_WEBHOOKS_ENDPOINT_ID,
      url: "https://im.example.com/cb",
      dialect: "openim",
      timeoutMs: 3000,
      openim: { urlStyle: "query" },
    });
  });

  it("routes only what the enabled hooks cover, with each hook's filters", () => {
    const app = withHooks({
      afterSendSingleMsg: { enable: true, deniedTypes: [115] },
      afterUserOnline: { enable: false },
    });
    expect(ids(app, "msg.sent", message({}))).toEqual(["openim"]);
    expect(ids(app, "msg.sent", message({ contentType: 115 }))).toEqual([]);
    expect(ids(app, "msg.sent", message({ groupId: "g1" }))).toEqual([]); // afterSendGroupMsg is off
    expect(
      ids(app, "user.online", encode({ payload: { $case: "userOnline", value: { userId: "u1" } } })),
    ).toEqual([]);
  });

  const passthrough = (command: string, payload: Record<string, unknown> = {}) =>
    encode({ payload: { $case: "passthrough", value: { command, payloadJson: JSON.stringify(payload) } } });

  it("exists for an async before-hook, and makes only that hook's calls, with its filters", () => {
    const app = withHooks({
      beforeSendSingleMsg: { enable: true, async: true, timeout: 4, deniedTypes: [115] },
      beforeOfflinePush: { enable: true },
      afterJoinGroup: { enable: false },
    });
    expect(endpointsOf(app)).toMatchObject([{ id: OPENIM_WEBHOOKS_ENDPOINT_ID, timeoutMs: 4000 }]);
    const send = "openim.callbackBeforeSendSingleMsgCommand";
    expect(ids(app, send, passthrough("callbackBeforeSendSingleMsgCommand", { contentType: 101 }))).toEqual([
      "openim",
    ]);
    expect(ids(app, send, passthrough("callbackBeforeSendSingleMsgCommand", { contentType: 115 }))).toEqual(
      [],
    );
    // A synchronous before-hook, an after-hook the app left off, and events no hook enables: nothing.
    expect(ids(app, "openim.callbackBeforePushCommand", passthrough("callbackBeforePushCommand"))).toEqual(
      [],
    );
    const join = "openim.callbackAfterJoinGroupCommand";
    expect(ids(app, join, passthrough("callbackAfterJoinGroupCommand"))).toEqual([]);
    expect(ids(app, "msg.sent", message({}))).toEqual([]);
    expect(ids(app, "conn.online", encode({}))).toEqual([]);
  });

  it("gives way to an explicit endpoint with the same id", () => {
    const app = withHooks({ afterSendSingleMsg: { enable: true } }, [
      { id: "openim", url: "https://other.example.com/", dialect: "openim", eventTypes: ["user.*"] },
    ]);
    expect(endpointsOf(app).map((e) => e.url)).toEqual(["https://other.example.com/"]);
    expect(ids(app, "msg.sent", message({}))).toEqual([]);
  });
});

describe("routeEvent and Herald's internal events", () => {
  it("delivers a lease expiry's node.reset like a reported one, and its node.lease_check to no endpoint", () => {
    const app = validateAppConfig({
      appId: "a",
      endpoints: [
        { id: "all", url: "https://example.com/all", dialect: "standard", secrets: [{ value: SECRET }] },
        {
          id: "nodes",
          url: "https://example.com/n",
          dialect: "standard",
          secrets: [{ value: SECRET }],
          eventTypes: ["node.*"],
        },
        { id: "mqtt", url: "https://example.com/q", dialect: "mqttchat", eventTypes: ["*"] },
      ],
    });
    const check = encode({
      payload: { $case: "nodeLeaseCheck", value: { nodeId: "节点", heartbeatSeq: 3, check: 1 } },
    });
    expect(ids(app, "node.lease_check", check)).toEqual([]);
    const reset = encode({
      payload: { $case: "nodeReset", value: { nodeId: "节点", reason: 2, beforeSeq: 9 } },
    });
    expect(ids(app, "node.reset", reset)).toEqual(["all", "mqtt", "nodes"]);
  });
});

import { readFileSync } from "node:fs";
import { Event, OfflineReason, type DeepPartial } from "@herald/proto";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../types.js";
import { DEFAULT_HOOK_POLICY } from "../hook-policy.js";
import { tencentBefore, TENCENT_HOOKS, type TencentAppBlock, type TencentHook } from "./before.js";
import { tencent } from "./dialect.js";
import { tencentSays } from "./after.js";
import type { TencentEndpointSettings } from "./settings.js";
import { tencentSign } from "./sign.js";

// The golden files hold the exact bytes; a text file's one trailing newline is not part of them.
function golden(name: string): string {
  return readFileSync(new URL(`../__golden__/tencent/${name}`, import.meta.url), "utf8").replace(/\n$/, "");
}
const goldenJson = (name: string) => JSON.parse(golden(name)) as JsonObject;

const URL_BASE = "https://www.example.com/im";
// The doc's worked example: Token=xxxxyyyy at RequestTime=1669872112.
const NOW = new Date(1669872112_000);
const SIGNED: TencentEndpointSettings = { sdkAppId: "1400000001", token: "xxxxyyyy" };

function event(payload: DeepPartial<Event>["payload"]): Event {
  return Event.fromPartial({ id: "evt-1", appId: "app_1", occurredAt: new Date(1629883332_497), payload });
}

function render(e: Event, settings: TencentEndpointSettings = SIGNED) {
  return tencent.render({
    url: URL_BASE,
    settings,
    secrets: [],
    items: [{ event: e, deliveryId: "d1" }],
    now: NOW,
  });
}

describe("Tencent's sign", () => {
  it("is the doc's worked example: sha256(xxxxyyyy1669872112)", () => {
    const example = goldenJson("sign-doc-example.json");
    expect(tencentSign(example["token"] as string, example["requestTime"] as number)).toBe(example["sign"]);
  });
});

describe("after-callbacks, byte for byte", () => {
  it("conn.online: State.StateChange Login/Register with ClientIP, OptPlatform and the sign in the URL", () => {
    const spec = render(
      event({
        $case: "connectionOnline",
        value: {
          userId: "testuser316",
          connId: "c1",
          platformId: 3,
          platform: "Windows",
          clientIp: "203.0.113.7",
        },
      }),
    );
    expect(spec.method).toBe("POST");
    expect(spec.url).toBe(golden("state-login.url.txt"));
    expect(spec.headers).toStrictEqual({ "content-type": "application/json" });
    expect(spec.body).toBe(golden("state-login.body.txt"));
  });

  it("conn.offline by timeout: Disconnect/TimeOut, unsigned without a token", () => {
    const spec = render(
      event({
        $case: "connectionOffline",
        value: {
          userId: "测试用户🙂",
          connId: "c1",
          platformId: 2,
          platform: "Android",
          reason: OfflineReason.OFFLINE_REASON_TIMEOUT,
        },
      }),
      { sdkAppId: "1400000001" },
    );
    expect(spec.url).toBe(golden("state-timeout.unsigned.url.txt"));
    expect(spec.body).toBe(golden("state-timeout.body.txt"));
  });

  it.each([
    [OfflineReason.OFFLINE_REASON_LOGOUT, "Logout", "Unregister"],
    [OfflineReason.OFFLINE_REASON_DISCONNECT, "Disconnect", "LinkClose"],
    [OfflineReason.OFFLINE_REASON_TIMEOUT, "Disconnect", "TimeOut"],
    [OfflineReason.OFFLINE_REASON_KICKED, "Logout", "Unregister"],
    [OfflineReason.OFFLINE_REASON_UNSPECIFIED, "Disconnect", "LinkClose"],
  ])("offline reason %s is %s/%s", (reason, action, why) => {
    const spec = render(event({ $case: "connectionOffline", value: { userId: "u", connId: "c", reason } }));
    expect((JSON.parse(spec.body) as JsonObject)["Info"]).toStrictEqual({
      Action: action,
      To_Account: "u",
      Reason: why,
    });
  });

  const message = { fromUserId: "jared", contentType: 101, content: '{"content":"red packet"}' };

  it("msg.sent to a user: C2C.CallbackAfterSendMsg", () => {
    const spec = render(
      event({
        $case: "messageSent",
        value: {
          ...message,
          messageId: "srv-1",
          toUserId: "Jonh",
          seq: 48374,
          senderPlatformId: 1,
          ex: "your cloud custom data",
          sentAt: new Date(1557481126_000),
        },
      }),
    );
    expect(spec.url).toContain(
      "CallbackCommand=C2C.CallbackAfterSendMsg&contenttype=json&ClientIP=&OptPlatform=iOS&",
    );
    expect(spec.body).toBe(golden("c2c-after-send.body.txt"));
  });

  it("msg.sent to a group: Group.CallbackAfterSendMsg", () => {
    const spec = render(
      event({
        $case: "messageSent",
        value: {
          ...message,
          messageId: "srv-2",
          groupId: "@TGS#2J4SZEAEL",
          seq: 123,
          senderPlatformId: 5,
          sentAt: new Date(1490686222_000),
        },
      }),
    );
    expect(spec.url).toContain(
      "CallbackCommand=Group.CallbackAfterSendMsg&contenttype=json&ClientIP=&OptPlatform=Web&",
    );
    expect(spec.body).toBe(golden("group-after-send.body.txt"));
  });

  it("a message that is not text is a TIMCustomElem", () => {
    const spec = render(
      event({
        $case: "messageSent",
        value: { fromUserId: "a", toUserId: "b", contentType: 102, content: '{"url":"x"}' },
      }),
    );
    expect((JSON.parse(spec.body) as JsonObject)["MsgBody"]).toStrictEqual([
      { MsgType: "TIMCustomElem", MsgContent: { Data: '{"url":"x"}', Desc: "", Ext: "" } },
    ]);
  });

  it("room.status join and leave: Group.CallbackAfterNewMemberJoin / AfterMemberExit", () => {
    const join = render(
      event({
        $case: "roomStatus",
        value: { roomId: "room-1", userIds: ["u1"], status: 0, kind: 1, time: 1629883332497 },
      }),
    );
    expect(join.body).toBe(golden("member-join.body.txt"));
    const exit = render(
      event({
        $case: "roomStatus",
        value: { roomId: "room-1", userIds: ["u1", "u2"], status: 1, kind: 2, time: 1629883332497 },
      }),
    );
    expect(exit.body).toBe(golden("member-exit.body.txt"));
  });

  it("says nothing for a room's creation or destruction", () => {
    for (const kind of [0, 3]) {
      expect(tencentSays(event({ $case: "roomStatus", value: { roomId: "r", kind } }))).toBe(false);
    }
    expect(tencentSays(event({ $case: "connectionOnline", value: { userId: "u", connId: "c" } }))).toBe(true);
    // Routing asks before anything is rendered: an event without a time is not read for it.
    const timeless = Event.fromPartial({
      id: "e",
      payload: { $case: "connectionOffline", value: { userId: "u" } },
    });
    expect(tencentSays(timeless)).toBe(true);
  });
});

describe("an after-callback's answer", () => {
  const refusal = (body: string) => tencent.refusal?.({ status: 200, body });
  it("ErrorCode 0 is taken", () => {
    expect(refusal('{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}')).toBeUndefined();
  });
  it("ErrorCode != 0 or ActionStatus FAIL is a failure naming ErrorCode and ErrorInfo", () => {
    expect(refusal('{"ActionStatus":"FAIL","ErrorCode":1,"ErrorInfo":"busy"}')).toBe(
      "ErrorCode 1 (FAIL): busy",
    );
    expect(refusal('{"ErrorCode":"70001","ErrorInfo":"x"}')).toBe("ErrorCode 70001: x");
    expect(refusal('{"ActionStatus":"FAIL","ErrorCode":0,"ErrorInfo":"odd"}')).toBe(
      "ErrorCode 0 (FAIL): odd",
    );
  });
  it("a body that is not JSON (an empty quick ack) is taken", () => {
    expect(refusal("")).toBeUndefined();
    expect(refusal("ok")).toBeUndefined();
  });
});

describe("before-callbacks", () => {
  const c2c = TENCENT_HOOKS.find((h) => h.key === "C2C.CallbackBeforeSendMsg") as TencentHook;
  const group = TENCENT_HOOKS.find((h) => h.key === "Group.CallbackBeforeSendMsg") as TencentHook;
  const block: TencentAppBlock = tencentBeforeBlock();
  const request = goldenJson("c2c-before-send.request.json");
  const answer = (body: object | string, status = 200) =>
    tencentBefore.interpret(c2c, request, {
      status,
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  it("renders Tencent's URL (the chat core's ClientIP and OptPlatform moved to it) and body, byte for byte", () => {
    const spec = tencentBefore.render(block, c2c, {
      operationId: "op-1",
      payload: { ...request, ClientIP: "198.51.100.4", OptPlatform: "Android" },
      now: NOW,
    });
    expect(spec.url).toBe(golden("c2c-before-send.url.txt"));
    expect(spec.body).toBe(golden("c2c-before-send.body.txt"));
  });

  it("ErrorCode 0 allows", () => {
    expect(answer({ ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "" })).toStrictEqual({ kind: "continue" });
  });

  it("ErrorCode 0 with MsgBody and CloudCustomData modifies the request", () => {
    const outcome = answer(golden("c2c-before-send.modify.response.json"));
    expect(outcome).toStrictEqual({
      kind: "modify",
      payload: {
        ...request,
        MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "***" } }],
        CloudCustomData: "checked",
      },
    });
  });

  it("ErrorCode 0 with the same MsgBody allows unchanged", () => {
    expect(answer({ ErrorCode: 0, MsgBody: request["MsgBody"] })).toStrictEqual({ kind: "continue" });
  });

  it("ErrorCode 1 denies with Tencent's blocked-by-callback code; 2 drops silently", () => {
    expect(answer({ ActionStatus: "OK", ErrorCode: 1, ErrorInfo: "spam" })).toStrictEqual({
      kind: "deny",
      errCode: 20006,
      errMsg: "spam",
      errDlt: "",
    });
    const groupDeny = tencentBefore.interpret(group, request, { status: 200, body: '{"ErrorCode":1}' });
    expect(groupDeny).toMatchObject({ kind: "deny", errCode: 10016 });
    expect(answer({ ActionStatus: "OK", ErrorCode: 2, ErrorInfo: "" })).toStrictEqual({ kind: "drop" });
  });

  it("ErrorCode 120001-130000 denies, passing the code and ErrorInfo", () => {
    expect(answer({ ErrorCode: 120005, ErrorInfo: "不可以" })).toStrictEqual({
      kind: "deny",
      errCode: 120005,
      errMsg: "不可以",
      errDlt: "",
    });
    expect(answer({ ErrorCode: 130000, ErrorInfo: "" })).toMatchObject({ kind: "deny", errCode: 130000 });
    expect(answer({ ErrorCode: 130001, ErrorInfo: "" })).toMatchObject({
      kind: "failed",
      failure: { reason: "action", actionCode: 130001 },
    });
  });

  it("a non-2xx, a body that is not JSON, or a bad MsgBody is a failed callback", () => {
    expect(answer("oops", 500)).toMatchObject({ kind: "failed", failure: { reason: "status", status: 500 } });
    expect(answer("<html>")).toMatchObject({ kind: "failed", failure: { reason: "body" } });
    expect(answer({ ErrorCode: 0, MsgBody: "x" })).toMatchObject({
      kind: "failed",
      failure: { reason: "body" },
    });
    expect(answer({ ErrorCode: 0, CloudCustomData: 1 })).toMatchObject({
      kind: "failed",
      failure: { reason: "body" },
    });
  });

  it("the app block fills Tencent's defaults: 2 s, fail open, off unless enabled", () => {
    const parsed = tencentBefore.appSchema?.parse({
      url: "https://biz.example/cb",
      sdkAppId: 1400000001,
      hooks: { "C2C.CallbackBeforeSendMsg": { enable: true } },
    });
    expect(parsed).toStrictEqual({
      url: "https://biz.example/cb",
      sdkAppId: "1400000001",
      hooks: { "C2C.CallbackBeforeSendMsg": { enable: true, timeoutMs: 2000, failedContinue: true } },
    });
    expect(tencentBefore.hookSettings(parsed as TencentAppBlock, c2c)).toStrictEqual({
      enable: true,
      timeoutMs: 2000,
      policy: DEFAULT_HOOK_POLICY,
    });
    expect(tencentBefore.hookSettings(parsed as TencentAppBlock, group)).toBeUndefined();
    expect(() =>
      tencentBefore.appSchema?.parse({ ...(parsed as object), hooks: { "C2C.CallbackAfterSendMsg": {} } }),
    ).toThrow();
    expect(() => tencentBefore.appSchema?.parse({ url: "https://x", sdkAppId: "1", token: "" })).toThrow(
      /1 to 128/,
    );
  });

  it("takes failedAction deny or drop alone, and refuses a failedContinue that disagrees with it", () => {
    const hooks = (settings: object) =>
      tencentBefore.appSchema?.parse({
        url: "https://biz.example/cb",
        sdkAppId: 1400000001,
        hooks: { "C2C.CallbackBeforeSendMsg": { enable: true, ...settings } },
      }) as TencentAppBlock;
    for (const failedAction of ["deny", "drop"] as const) {
      const parsed = hooks({ failedAction });
      expect(parsed.hooks["C2C.CallbackBeforeSendMsg"]).toMatchObject({
        failedAction,
        failedContinue: false,
      });
      expect(tencentBefore.hookSettings(parsed, c2c)?.policy.failedAction).toBe(failedAction);
    }
    expect(() => hooks({ failedAction: "drop", failedContinue: true })).toThrow(/disagrees/);
    expect(tencentBefore.hookSettings(hooks({ failedContinue: false }), c2c)?.policy.failedAction).toBe(
      "deny",
    );
  });

  it("finds its commands; the after-commands are known as after-hooks", () => {
    expect(tencentBefore.findHook("C2C.CallbackBeforeSendMsg")?.kind).toBe("before");
    expect(tencentBefore.findHook("State.StateChange")?.kind).toBe("after");
    expect(tencentBefore.findHook("callbackBeforeSendSingleMsgCommand")).toBeUndefined();
    expect(c2c.subjectToken).not.toContain(".");
  });
});

function tencentBeforeBlock(): TencentAppBlock {
  return {
    url: URL_BASE,
    sdkAppId: "1400000001",
    token: "xxxxyyyy",
    hooks: { "C2C.CallbackBeforeSendMsg": { enable: true, timeoutMs: 2000, failedContinue: true } },
  };
}

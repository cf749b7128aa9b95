import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { PayloadError, SignatureError, parseTencent, verifyTencent, type SignatureFailure } from "./index.js";

const NOW_MS = 1669872112_000;
const SDK_APP_ID = "1400000001";

// Computed here, independently of the library under test.
function callbackUrl(token: string | undefined, requestTime = NOW_MS / 1000, sdkAppId = SDK_APP_ID): string {
  const base = `/im?SdkAppid=${sdkAppId}&CallbackCommand=State.StateChange&contenttype=json&ClientIP=1.2.3.4&OptPlatform=iOS`;
  if (token === undefined) return base;
  const sign = createHash("sha256").update(`${token}${requestTime}`).digest("hex");
  return `${base}&Sign=${sign}&RequestTime=${requestTime}`;
}

function failure(run: () => void): SignatureFailure {
  try {
    run();
  } catch (err) {
    if (err instanceof SignatureError) return err.reason;
    throw err;
  }
  throw new Error("expected a SignatureError");
}

describe("verifyTencent", () => {
  it("passes the doc's worked example and returns the query's facts", () => {
    const url = `https://biz.example${callbackUrl("xxxxyyyy")}`;
    expect(url).toContain("Sign=17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061");
    expect(verifyTencent({ url, sdkAppId: 1400000001, token: "xxxxyyyy", nowMs: NOW_MS })).toStrictEqual({
      sdkAppId: SDK_APP_ID,
      command: "State.StateChange",
      clientIp: "1.2.3.4",
      optPlatform: "iOS",
      requestTime: 1669872112,
    });
  });

  it("accepts any token of a rotation, and an unsigned request when no token is configured", () => {
    const url = callbackUrl("old");
    expect(() =>
      verifyTencent({ url, sdkAppId: SDK_APP_ID, token: ["new", "old"], nowMs: NOW_MS }),
    ).not.toThrow();
    expect(verifyTencent({ url: callbackUrl(undefined), sdkAppId: SDK_APP_ID }).requestTime).toBeUndefined();
  });

  it("refuses another SdkAppid, a wrong token, a missing sign, and a malformed one", () => {
    const other = callbackUrl("t", NOW_MS / 1000, "1400000002");
    expect(
      failure(() => verifyTencent({ url: other, sdkAppId: SDK_APP_ID, token: "t", nowMs: NOW_MS })),
    ).toBe("mismatch");
    expect(
      failure(() =>
        verifyTencent({ url: callbackUrl("t"), sdkAppId: SDK_APP_ID, token: "u", nowMs: NOW_MS }),
      ),
    ).toBe("mismatch");
    expect(
      failure(() => verifyTencent({ url: callbackUrl(undefined), sdkAppId: SDK_APP_ID, token: "t" })),
    ).toBe("missing");
    const bad = callbackUrl("t").replace(/Sign=[0-9a-f]+/, "Sign=zz");
    expect(failure(() => verifyTencent({ url: bad, sdkAppId: SDK_APP_ID, token: "t", nowMs: NOW_MS }))).toBe(
      "malformed",
    );
  });

  it("holds Tencent's one-minute window both ways", () => {
    const input = (nowMs: number) => ({ url: callbackUrl("t"), sdkAppId: SDK_APP_ID, token: "t", nowMs });
    expect(() => verifyTencent(input(NOW_MS + 60_000))).not.toThrow();
    expect(failure(() => verifyTencent(input(NOW_MS + 61_000)))).toBe("stale");
    expect(failure(() => verifyTencent(input(NOW_MS - 61_000)))).toBe("future");
  });
});

describe("parseTencent", () => {
  it("parses State.StateChange, checking the URL's command", () => {
    const body =
      '{"CallbackCommand":"State.StateChange","EventTime":1629883332497,"Info":{"Action":"Login","To_Account":"测试🙂","Reason":"Register"}}';
    expect(parseTencent(body, "State.StateChange")).toMatchObject({ Info: { To_Account: "测试🙂" } });
    expect(() => parseTencent(body, "C2C.CallbackAfterSendMsg")).toThrow(PayloadError);
  });

  it("parses messages and member changes, naming the first bad field", () => {
    const c2c = {
      CallbackCommand: "C2C.CallbackAfterSendMsg",
      From_Account: "a",
      To_Account: "b",
      MsgSeq: 1,
      MsgRandom: 2,
      MsgTime: 3,
      MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "hi" } }],
    };
    expect(parseTencent(JSON.stringify(c2c))).toMatchObject({ To_Account: "b" });
    const join = {
      CallbackCommand: "Group.CallbackAfterNewMemberJoin",
      GroupId: "g",
      JoinType: "Apply",
      Operator_Account: "u",
      NewMemberList: [{ Member_Account: "u" }],
    };
    expect(parseTencent(JSON.stringify(join))).toMatchObject({ GroupId: "g" });
    try {
      parseTencent(JSON.stringify({ ...c2c, MsgBody: [{ MsgType: "TIMTextElem" }] }));
      expect.unreachable();
    } catch (err) {
      expect((err as PayloadError).field).toBe("MsgBody[0].MsgContent");
    }
    expect(() => parseTencent("nope")).toThrow(PayloadError);
    expect(() => parseTencent('{"CallbackCommand":"Sns.CallbackFriendAdd"}')).toThrow(/unknown command/);
  });
});

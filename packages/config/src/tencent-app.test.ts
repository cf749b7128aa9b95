import { describe, expect, it } from "vitest";
import { ConfigFileError, parseHeraldConfig, validateAppConfig } from "./index.js";

const tencent = {
  url: "https://biz.example/im",
  sdkAppId: "1400000001",
  hooks: { "C2C.CallbackBeforeSendMsg": { enable: true } },
};

describe("an app's tencent block", () => {
  it("is stored with Tencent's defaults filled: 2000 ms, fail open", () => {
    const app = validateAppConfig({ appId: "a", tencent });
    expect(app.tencent).toStrictEqual({
      ...tencent,
      hooks: { "C2C.CallbackBeforeSendMsg": { enable: true, timeoutMs: 2000, failedContinue: true } },
    });
    expect(app.openim).toBeUndefined();
  });

  it("refuses an unknown hook and a token over 128 characters, naming the field", () => {
    expect(() =>
      validateAppConfig({ appId: "a", tencent: { ...tencent, hooks: { "C2C.Nope": {} } } }),
    ).toThrow(/tencent\.hooks/);
    expect(() => validateAppConfig({ appId: "a", tencent: { ...tencent, token: "x".repeat(129) } })).toThrow(
      /tencent\.token/,
    );
  });

  it("refuses an async hook, saying why and naming the field; async: false is taken", () => {
    const withHook = (settings: Record<string, unknown>) =>
      validateAppConfig({
        appId: "a",
        tencent: { ...tencent, hooks: { "C2C.CallbackBeforeSendMsg": { enable: true, ...settings } } },
      });
    expect(() => withHook({ async: true })).toThrow(
      /tencent\.hooks\.C2C\.CallbackBeforeSendMsg\.async.*not available for Tencent hooks/,
    );
    expect(withHook({ async: false }).tencent?.hooks["C2C.CallbackBeforeSendMsg"]).toMatchObject({
      async: false,
    });
  });

  it("is read from Herald's YAML, an app with only a tencent block included", async () => {
    const text = [
      "apps:",
      "  tc:",
      "    tencent:",
      "      url: https://biz.example/im",
      "      sdkAppId: 1400000001",
      "      token: tok",
      "      hooks:",
      "        Group.CallbackBeforeSendMsg: { enable: true, timeoutMs: 500, failedContinue: false }",
    ].join("\n");
    const { apps, warnings } = await parseHeraldConfig(text, { file: "herald.yaml" });
    expect(warnings).toStrictEqual([]);
    expect(apps[0]?.tencent).toStrictEqual({
      url: "https://biz.example/im",
      sdkAppId: "1400000001",
      token: "tok",
      hooks: { "Group.CallbackBeforeSendMsg": { enable: true, timeoutMs: 500, failedContinue: false } },
    });
    await expect(
      parseHeraldConfig("apps:\n  tc:\n    tencent:\n      url: https://x/\n", { file: "herald.yaml" }),
    ).rejects.toThrow(ConfigFileError);
  });

  it("reads a tencent endpoint's block from the file like any dialect's", async () => {
    const text = [
      "apps:",
      "  tc:",
      "    endpoints:",
      "      after:",
      "        url: https://biz.example/im",
      "        dialect: tencent",
      "        tencent: { sdkAppId: 1400000001, token: tok }",
    ].join("\n");
    const { apps } = await parseHeraldConfig(text, { file: "herald.yaml" });
    expect(apps[0]?.endpoints[0]).toMatchObject({
      dialect: "tencent",
      tencent: { sdkAppId: "1400000001", token: "tok" },
      eventTypes: ["conn.online", "conn.offline", "msg.sent", "room.status"],
      retry: { scheduleMs: [1000, 5000, 30000] },
      ordering: "key",
    });
  });
});

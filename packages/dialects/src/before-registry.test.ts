import { describe, expect, it } from "vitest";
import { BEFORE_DIALECTS, findBeforeHook } from "./registry.js";

describe("before-hooks through the registry", () => {
  it("finds each command in the one dialect whose table knows it", () => {
    expect(findBeforeHook("callbackBeforeSendSingleMsgCommand")).toMatchObject({
      dialect: { appKey: "openim" },
      hook: {
        key: "beforeSendSingleMsg",
        kind: "before",
        subjectToken: "callbackBeforeSendSingleMsgCommand",
      },
    });
    // OpenIM's webhooks.yml key and seed spelling still name the same hook.
    expect(findBeforeHook("beforeOfflinePush")?.hook).toBe(findBeforeHook("callbackBeforePushCommand")?.hook);
    expect(findBeforeHook("C2C.CallbackBeforeSendMsg")).toMatchObject({
      dialect: { appKey: "tencent" },
      hook: { key: "C2C.CallbackBeforeSendMsg", kind: "before" },
    });
    expect(findBeforeHook("Group.CallbackAfterSendMsg")?.hook.kind).toBe("after");
    expect(findBeforeHook("no.such")).toBeUndefined();
  });

  it("gives every app block its own key, and every hook a subject token no other hook has", () => {
    const keys = BEFORE_DIALECTS.map((d) => d.appKey);
    expect(new Set(keys).size).toBe(keys.length);
    const commands = [
      "callbackBeforeSendSingleMsgCommand",
      "C2C.CallbackBeforeSendMsg",
      "Group.CallbackBeforeSendMsg",
    ];
    const tokens = commands.map((c) => findBeforeHook(c)?.hook.subjectToken ?? "");
    expect(new Set(tokens).size).toBe(tokens.length);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});

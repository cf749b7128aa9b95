import { describe, expect, it } from "vitest";
import { OPENIM_HOOKS, findOpenImHook, openImCommand } from "./hooks.js";

describe("OPENIM_HOOKS", () => {
  it("has the 53 hooks of webhooks.yml, 23 of them before-hooks", () => {
    expect(OPENIM_HOOKS).toHaveLength(53);
    expect(OPENIM_HOOKS.filter((hook) => hook.kind === "before")).toHaveLength(23);
  });

  it("has unique keys, commands and seed commands, and no name means two hooks", () => {
    const keys = OPENIM_HOOKS.map((hook) => hook.key);
    const commands = OPENIM_HOOKS.map((hook) => hook.command);
    expect(new Set(keys).size).toBe(53);
    expect(new Set(commands).size).toBe(53);
    expect(new Set(OPENIM_HOOKS.map((hook) => hook.seedCommand)).size).toBe(53);
    for (const hook of OPENIM_HOOKS) {
      for (const name of [hook.key, hook.command, hook.seedCommand]) {
        expect(findOpenImHook(name), name).toBe(hook);
      }
    }
  });

  it("marks exactly the six message hooks", () => {
    expect(OPENIM_HOOKS.filter((hook) => hook.messageHook).map((hook) => hook.key)).toStrictEqual([
      "beforeSendSingleMsg",
      "afterSendSingleMsg",
      "beforeSendGroupMsg",
      "beforeMsgModify",
      "afterSendGroupMsg",
      "afterMsgSaveDB",
    ]);
  });
});

describe("findOpenImHook", () => {
  it("finds beforeOfflinePush by key, current command and seed command", () => {
    const byKey = findOpenImHook("beforeOfflinePush");
    expect(byKey).toMatchObject({
      key: "beforeOfflinePush",
      kind: "before",
      command: "callbackBeforeOfflinePushCommand",
      seedCommand: "callbackBeforePushCommand",
      messageHook: false,
    });
    expect(findOpenImHook("callbackBeforeOfflinePushCommand")).toBe(byKey);
    expect(findOpenImHook("callbackBeforePushCommand")).toBe(byKey);
  });

  it("finds afterUserOnline by its seed 002 name", () => {
    expect(findOpenImHook("callbackUserOnlineCommand")?.key).toBe("afterUserOnline");
  });

  it("keeps OpenIM's odd spellings and the unchanged names", () => {
    expect(findOpenImHook("afterRevokeMsg")?.command).toBe("callbackBeforeAfterMsgCommand");
    expect(findOpenImHook("beforeMemberJoinGroup")?.command).toBe("callbackBeforeMembersJoinGroupCommand");
    expect(findOpenImHook("callbackBeforeMemberJoinGroupCommand")?.key).toBe("beforeMemberJoinGroup");
    expect(findOpenImHook("afterGroupMsgRevoke")?.command).toBe("callbackAfterGroupMsgRevokeCommand");
    const single = findOpenImHook("beforeSendSingleMsg");
    expect(single?.seedCommand).toBe(single?.command);
  });

  it("matches exactly", () => {
    expect(findOpenImHook("beforeofflinepush")).toBeUndefined();
    expect(findOpenImHook(" beforeOfflinePush")).toBeUndefined();
    expect(findOpenImHook("")).toBeUndefined();
  });
});

describe("openImCommand", () => {
  it("picks the naming", () => {
    const hook = findOpenImHook("beforeMsgModify");
    if (hook === undefined) throw new Error("missing beforeMsgModify");
    expect(openImCommand(hook, "seed")).toBe("callbackMsgModifyCommand");
    expect(openImCommand(hook, "current")).toBe("callbackBeforeMsgModifyCommand");
  });
});

import { describe, expect, it } from "vitest";
import type { JsonObject } from "../types.js";
import { interpretOpenImBefore, type BeforeOutcome } from "./before.js";
import { OPENIM_HOOKS, findOpenImHook } from "./hooks.js";
import { OPENIM_BEFORE_MODIFICATIONS } from "./modifications.js";

function respond(hookName: string, request: JsonObject, response: JsonObject): BeforeOutcome {
  const hook = findOpenImHook(hookName);
  if (hook === undefined) throw new Error(`no hook ${hookName}`);
  return interpretOpenImBefore(hook, request, { status: 200, body: JSON.stringify(response) });
}

const pushRequest = {
  callbackCommand: "callbackBeforePushCommand",
  userIDList: ["a", "b"],
  title: "t",
  desc: "d",
  ex: "e",
  iOSPushSound: "s",
  iOSBadgeCount: false,
  signalInfo: "",
  contentType: 101,
};

describe("beforeOfflinePush", () => {
  it("replaces userIDList when non-empty and ignores an empty one", () => {
    expect(respond("beforeOfflinePush", pushRequest, { userIDList: ["c"] })).toStrictEqual({
      kind: "modify",
      payload: { ...pushRequest, userIDList: ["c"] },
    });
    expect(respond("beforeOfflinePush", pushRequest, { userIDList: [] })).toStrictEqual({ kind: "continue" });
    expect(respond("beforeOfflinePush", pushRequest, { userIDList: ["a", "b"] })).toStrictEqual({
      kind: "continue",
    });
  });

  it("replaces offlinePushInfo and the flattened keys, absent keys becoming zero values", () => {
    const outcome = respond("beforeOfflinePush", pushRequest, {
      offlinePushInfo: { title: "T2", iOSBadgeCount: true },
    });
    const offlinePushInfo = {
      title: "T2",
      desc: "",
      ex: "",
      iOSPushSound: "",
      iOSBadgeCount: true,
      signalInfo: "",
    };
    expect(outcome).toStrictEqual({
      kind: "modify",
      payload: { ...pushRequest, ...offlinePushInfo, offlinePushInfo },
    });
  });

  it("fails on a wrongly typed userIDList or offlinePushInfo", () => {
    expect(respond("beforeOfflinePush", pushRequest, { userIDList: "c" })).toStrictEqual({
      kind: "failed",
      failure: { reason: "body", detail: 'userIDList must be an array of strings, got "c"' },
    });
    expect(
      respond("beforeOfflinePush", pushRequest, { offlinePushInfo: { iOSBadgeCount: 1 } }),
    ).toMatchObject({
      failure: { reason: "body", detail: "offlinePushInfo.iOSBadgeCount must be a boolean, got 1" },
    });
    expect(respond("beforeOfflinePush", pushRequest, { offlinePushInfo: [] })).toMatchObject({
      failure: { reason: "body" },
    });
  });

  it("never mutates the request", () => {
    const request = structuredClone(pushRequest);
    respond("beforeOfflinePush", request, { userIDList: ["z"], offlinePushInfo: { title: "x" } });
    expect(request).toStrictEqual(pushRequest);
  });
});

describe("push hooks", () => {
  it("beforeOnlinePush is veto only", () => {
    const response = { userIDList: ["z"], offlinePushInfo: { title: "x" } };
    expect(respond("beforeOnlinePush", pushRequest, response)).toStrictEqual({ kind: "continue" });
  });

  it("beforeGroupOnlinePush sets userIDList when non-empty", () => {
    const request = { groupID: "g1", contentType: 101 };
    expect(respond("beforeGroupOnlinePush", request, { userIDList: ["u1"] })).toStrictEqual({
      kind: "modify",
      payload: { groupID: "g1", contentType: 101, userIDList: ["u1"] },
    });
    expect(respond("beforeGroupOnlinePush", request, { userIDList: [] })).toStrictEqual({ kind: "continue" });
  });
});

describe("beforeMsgModify", () => {
  const request = {
    sendID: "u1",
    content: '{"content":"hi"}',
    faceURL: "f",
    atUserList: null,
    contentType: 101,
  };

  it("applies non-null keys with the request's names and ignores msgDataList", () => {
    const outcome = respond("beforeMsgModify", request, {
      content: '{"content":"***"}',
      senderFaceURL: "f2",
      atUserIDList: ["u3"],
      contentType: null,
      ex: "x",
      options: { history: false },
      msgDataList: "AAAA",
    });
    expect(outcome).toStrictEqual({
      kind: "modify",
      payload: {
        sendID: "u1",
        content: '{"content":"***"}',
        faceURL: "f2",
        atUserList: ["u3"],
        contentType: 101,
        ex: "x",
        options: { history: false },
      },
    });
  });

  it("continues when only msgDataList or nulls come back", () => {
    expect(respond("beforeMsgModify", request, { msgDataList: "AAAA", content: null })).toStrictEqual({
      kind: "continue",
    });
  });

  it("fails on a wrongly typed field", () => {
    expect(respond("beforeMsgModify", request, { contentType: "101" })).toMatchObject({
      failure: { reason: "body", detail: 'contentType must be an integer, got "101"' },
    });
    expect(respond("beforeMsgModify", request, { options: { history: "no" } })).toMatchObject({
      failure: { reason: "body" },
    });
  });
});

describe("user, friend and register hooks", () => {
  it.each(["beforeUpdateUserInfo", "beforeUpdateUserInfoEx"])("%s replaces nickName, faceURL, ex", (name) => {
    const request = { userID: "u1", nickName: "a", faceURL: "f", ex: null };
    expect(respond(name, request, { nickName: "b", faceURL: null, ex: "" })).toStrictEqual({
      kind: "modify",
      payload: { userID: "u1", nickName: "b", faceURL: "f", ex: "" },
    });
  });

  it("beforeSetFriendRemark replaces remark only when non-empty", () => {
    const request = { ownerUserID: "a", friendUserID: "b", remark: "old" };
    expect(respond("beforeSetFriendRemark", request, { remark: "new" })).toStrictEqual({
      kind: "modify",
      payload: { ...request, remark: "new" },
    });
    expect(respond("beforeSetFriendRemark", request, { remark: "" })).toStrictEqual({ kind: "continue" });
  });

  it("beforeImportFriends replaces friendUserIDs only when non-empty", () => {
    const request = { ownerUserID: "a", friendUserIDs: ["b", "c"] };
    expect(respond("beforeImportFriends", request, { friendUserIDs: ["b"] })).toStrictEqual({
      kind: "modify",
      payload: { ownerUserID: "a", friendUserIDs: ["b"] },
    });
    expect(respond("beforeImportFriends", request, { friendUserIDs: [] })).toStrictEqual({
      kind: "continue",
    });
  });

  it("beforeUserRegister replaces users only when non-empty", () => {
    const request = { users: [{ userID: "u1", nickname: "a" }] };
    const users = [{ userID: "u1", nickname: "b" }];
    expect(respond("beforeUserRegister", request, { users })).toStrictEqual({
      kind: "modify",
      payload: { users },
    });
    expect(respond("beforeUserRegister", request, { users: [] })).toStrictEqual({ kind: "continue" });
    expect(respond("beforeUserRegister", request, { users: ["u1"] })).toMatchObject({
      failure: { reason: "body" },
    });
  });
});

describe("group hooks", () => {
  it("beforeCreateGroup replaces group fields but not applyMemberFriend", () => {
    const request = { groupID: "g1", groupName: "n", groupType: 2, applyMemberFriend: 0 };
    expect(
      respond("beforeCreateGroup", request, { groupName: "m", needVerification: 1, applyMemberFriend: 1 }),
    ).toStrictEqual({ kind: "modify", payload: { ...request, groupName: "m", needVerification: 1 } });
  });

  it("beforeMemberJoinGroup merges memberCallbackList into memberList by userID", () => {
    const request = {
      groupID: "g1",
      memberList: [
        { userID: "a", ex: "" },
        { userID: "b", ex: "" },
      ],
      groupEx: "",
    };
    const outcome = respond("beforeMemberJoinGroup", request, {
      memberCallbackList: [
        { userID: "b", nickname: "Bee", roleLevel: 60, muteEndTime: null },
        { userID: "stranger", nickname: "x" },
      ],
    });
    expect(outcome).toStrictEqual({
      kind: "modify",
      payload: {
        ...request,
        memberList: [
          { userID: "a", ex: "" },
          { userID: "b", ex: "", nickname: "Bee", roleLevel: 60 },
        ],
      },
    });
    expect(request.memberList[1]).toStrictEqual({ userID: "b", ex: "" });
  });

  it("beforeMemberJoinGroup fails on an entry without userID", () => {
    const request = { groupID: "g1", memberList: [{ userID: "a" }] };
    expect(
      respond("beforeMemberJoinGroup", request, { memberCallbackList: [{ nickname: "x" }] }),
    ).toStrictEqual({
      kind: "failed",
      failure: { reason: "body", detail: "memberCallbackList[0].userID must be a string" },
    });
  });

  it("beforeSetGroupMemberInfo replaces nickName, faceURL, roleLevel, ex", () => {
    const request = { groupID: "g1", userID: "u1", nickName: null, faceURL: null, roleLevel: null, ex: null };
    expect(respond("beforeSetGroupMemberInfo", request, { roleLevel: 60, ex: "e" })).toStrictEqual({
      kind: "modify",
      payload: { ...request, roleLevel: 60, ex: "e" },
    });
  });

  it("beforeSetGroupInfo keeps fields the response leaves out (Herald, unlike OpenIM)", () => {
    const request = { groupID: "g1", groupName: "n", notification: "", faceURL: "", needVerification: 0 };
    expect(respond("beforeSetGroupInfo", request, { groupName: "m", lookMemberInfo: 1 })).toStrictEqual({
      kind: "modify",
      payload: { ...request, groupName: "m", lookMemberInfo: 1 },
    });
  });

  it("beforeSetGroupInfoEx does not apply notification", () => {
    const request = { groupID: "g1", groupName: null, notification: null };
    expect(respond("beforeSetGroupInfoEx", request, { notification: "n", groupName: "m" })).toStrictEqual({
      kind: "modify",
      payload: { ...request, groupName: "m" },
    });
  });
});

describe("conversation hooks", () => {
  it.each(["beforeCreateSingleChatConversations", "beforeCreateGroupChatConversations"])(
    "%s replaces the conversation settings",
    (name) => {
      const request = { ownerUserId: "a", conversationId: "si_a_b", recvMsgOpt: 0, isPinned: false, ex: "" };
      expect(respond(name, request, { isPinned: true, burnDuration: 30, ownerUserId: "zzz" })).toStrictEqual({
        kind: "modify",
        payload: { ...request, isPinned: true, burnDuration: 30 },
      });
      expect(respond(name, request, { isPinned: "yes" })).toMatchObject({ failure: { reason: "body" } });
    },
  );
});

describe("OPENIM_BEFORE_MODIFICATIONS", () => {
  it("names only before-hooks of the table", () => {
    for (const key of Object.keys(OPENIM_BEFORE_MODIFICATIONS)) {
      expect(OPENIM_HOOKS.find((hook) => hook.key === key)?.kind, key).toBe("before");
    }
  });

  it.each([
    "beforeSendSingleMsg",
    "beforeSendGroupMsg",
    "beforeAddFriend",
    "beforeAddBlack",
    "beforeApplyJoinGroup",
  ])("%s is veto only", (name) => {
    expect(
      respond(name, { ex: "a", remark: "r" }, { ex: "b", remark: "s", userIDList: ["x"] }),
    ).toStrictEqual({
      kind: "continue",
    });
  });
});

import { describe, expect, it } from "vitest";
import { openImHookFires, type TypeFilter } from "./filter.js";
import { findOpenImHook, type OpenImHook } from "./hooks.js";

function hook(name: string): OpenImHook {
  const found = findOpenImHook(name);
  if (found === undefined) throw new Error(`no hook ${name}`);
  return found;
}

const none: TypeFilter = { deniedTypes: [], allowedTypes: [], attentionIds: [] };
const sendSingle = hook("beforeSendSingleMsg");

describe("openImHookFires", () => {
  it("fires with no filter", () => {
    expect(openImHookFires(sendSingle, none, { contentType: 101, sendID: "u1" })).toStrictEqual({
      fires: true,
    });
  });

  it("skips a contentType inside a denied range, edges included", () => {
    const filter = { ...none, deniedTypes: [[110, 120] as const, [1500, 1500] as const] };
    for (const contentType of [110, 115, 120, 1500]) {
      expect(openImHookFires(sendSingle, filter, { contentType }).fires, `${contentType}`).toBe(false);
    }
    for (const contentType of [109, 121, 101]) {
      expect(openImHookFires(sendSingle, filter, { contentType }).fires, `${contentType}`).toBe(true);
    }
    expect(openImHookFires(sendSingle, filter, { contentType: 115 })).toStrictEqual({
      fires: false,
      why: "contentType 115 is in deniedTypes 110-120",
    });
  });

  it("fires only for allowed ranges when there are some", () => {
    const filter = { ...none, allowedTypes: [[101, 101] as const, [200, 300] as const] };
    expect(openImHookFires(sendSingle, filter, { contentType: 101 }).fires).toBe(true);
    expect(openImHookFires(sendSingle, filter, { contentType: 250 }).fires).toBe(true);
    expect(openImHookFires(sendSingle, filter, { contentType: 102 })).toStrictEqual({
      fires: false,
      why: "contentType 102 is in no allowedTypes range",
    });
  });

  it("lets deniedTypes win over allowedTypes", () => {
    const filter = { ...none, allowedTypes: [[100, 200] as const], deniedTypes: [[150, 150] as const] };
    expect(openImHookFires(sendSingle, filter, { contentType: 150 }).fires).toBe(false);
  });

  it("does not filter by type a payload without contentType, or a hook that is not a message hook", () => {
    const filter = { ...none, allowedTypes: [[101, 101] as const], deniedTypes: [[0, 100000] as const] };
    expect(openImHookFires(sendSingle, filter, { sendID: "u1" }).fires).toBe(true);
    expect(openImHookFires(hook("beforeOfflinePush"), filter, { contentType: 101 }).fires).toBe(true);
    expect(openImHookFires(hook("afterSendGroupMsg"), filter, { contentType: 102 }).fires).toBe(false);
  });

  it("with attentionIds, fires only when the payload names a listed ID", () => {
    const filter = { ...none, attentionIds: ["vip", "g1"] };
    const afterGroup = hook("afterSendGroupMsg");
    expect(openImHookFires(afterGroup, filter, { sendID: "u1", recvID: "", groupID: "g1" }).fires).toBe(true);
    expect(openImHookFires(sendSingle, filter, { sendID: "u1", recvID: "vip" }).fires).toBe(true);
    expect(openImHookFires(hook("afterUserOnline"), filter, { userID: "vip" }).fires).toBe(true);
    expect(openImHookFires(sendSingle, filter, { sendID: "u1", recvID: "u2", groupID: "" })).toStrictEqual({
      fires: false,
      why: "none of u1, u2 is in attentionIds",
    });
    expect(openImHookFires(hook("afterUserOnline"), filter, { userID: "u9" }).fires).toBe(false);
  });

  it("does not filter by attentionIds a payload that names no ID", () => {
    const filter = { ...none, attentionIds: ["vip"] };
    expect(openImHookFires(hook("beforeAddFriend"), filter, { fromUserID: "a", toUserID: "b" }).fires).toBe(
      true,
    );
  });
});

import { describe, expect, it } from "vitest";
import { Event, NodeResetReason, type DeepPartial, type NodeReset } from "@herald/proto";
import { TooLargeError, ValidationError } from "@herald/runtime";
import { appIdSchema as appId, entityIdSchema as entityId, eventIdSchema as eventId } from "@herald/config";
import { MAX_JSON_DEPTH, normalizeBatch, normalizeEvent, platformName, validateBefore } from "./events.js";

const now = new Date("2026-11-21T10:00:00Z");
const event = (e: DeepPartial<Event>) => Event.fromPartial({ id: "e1", appId: "app1", ...e });
const online = event({
  payload: { $case: "connectionOnline", value: { userId: "42", connId: "c7", platformId: 2, nodeId: "n1" } },
});

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err.field;
    throw err;
  }
  throw new Error("expected a ValidationError");
}

describe("normalizeEvent", () => {
  it("derives the type, defaults occurred-at to now and fills the platform name", () => {
    const out = normalizeEvent(online, 0, now);
    expect(out.type).toBe("conn.online");
    expect(out.occurredAt).toEqual(now);
    expect(out.payload).toMatchObject({ value: { platform: "Android" } });
  });

  it("keeps the chat core's occurred-at and platform name", () => {
    const at = new Date("2026-01-01T00:00:00Z");
    const given = event({
      occurredAt: at,
      payload: {
        $case: "connectionOnline",
        value: { userId: "42", connId: "c7", platformId: 2, platform: "Droid", nodeId: "n1" },
      },
    });
    const out = normalizeEvent(given, 0, now);
    expect(out.occurredAt).toEqual(at);
    expect(out.payload).toMatchObject({ value: { platform: "Droid" } });
  });

  it("names the field of a bad payload with its index", () => {
    const bad = event({ payload: { $case: "roomCreated", value: { roomId: "r1", status: 4 } } });
    expect(fieldOf(() => normalizeEvent(bad, 7, now))).toBe("events[7].room_created.status");
  });

  it("refuses an offline reason that is no OfflineReason, saying which are", () => {
    const offline = (reason: number) =>
      event({ payload: { $case: "connectionOffline", value: { userId: "42", connId: "c7", reason } } });
    expect(normalizeEvent(offline(1), 0, now).payload).toMatchObject({ value: { reason: 1 } });
    expect(() => normalizeEvent(offline(7), 3, now)).toThrow(
      "events[3].connection_offline.reason: must be one of UNSPECIFIED (0), LOGOUT (1), DISCONNECT (2), TIMEOUT (3), KICKED (4)",
    );
  });

  it("refuses the events that only Herald derives", () => {
    const derived = event({ payload: { $case: "userOnline", value: { userId: "u1", seq: 1 } } });
    expect(fieldOf(() => normalizeEvent(derived, 2, now))).toBe("events[2].user_online");
    const check = event({
      payload: { $case: "nodeLeaseCheck", value: { nodeId: "n1", heartbeatSeq: 3, check: 1 } },
    });
    expect(fieldOf(() => normalizeEvent(check, 0, now))).toBe("events[0].node_lease_check");
  });

  it("takes a chat core's node.reset, but not the fields Herald sets on a lease expiry", () => {
    const reset = (value: DeepPartial<NodeReset>) =>
      event({ payload: { $case: "nodeReset", value: { nodeId: "节点-1🚀", ...value } } });
    expect(normalizeEvent(reset({}), 0, now).type).toBe("node.reset");
    expect(normalizeEvent(reset({ reason: NodeResetReason.NODE_RESET_REASON_REPORTED }), 0, now).type).toBe(
      "node.reset",
    );
    expect(
      fieldOf(() =>
        normalizeEvent(reset({ reason: NodeResetReason.NODE_RESET_REASON_LEASE_EXPIRED }), 0, now),
      ),
    ).toBe("events[0].node_reset.reason");
    expect(fieldOf(() => normalizeEvent(reset({ beforeSeq: 9 }), 0, now))).toBe(
      "events[0].node_reset.before_seq",
    );
    expect(fieldOf(() => normalizeEvent(reset({ lease: { seconds: 5 } }), 0, now))).toBe(
      "events[0].node_reset.lease",
    );
  });

  it("accepts a passthrough command as its own type", () => {
    const pass = event({
      payload: {
        $case: "passthrough",
        value: { command: "callbackAfterQuitGroupCommand", payloadJson: "{}" },
      },
    });
    expect(normalizeEvent(pass, 0, now).type).toBe("openim.callbackAfterQuitGroupCommand");
  });
});

describe("normalizeBatch", () => {
  it("refuses an empty batch and one over the limit", () => {
    expect(fieldOf(() => normalizeBatch([], 10))).toBe("events");
    expect(fieldOf(() => normalizeBatch([online, online, online], 2))).toBe("events");
  });

  it("lets a repeated id through: JetStream stores it once", () => {
    expect(normalizeBatch([online, online], 10)).toHaveLength(2);
  });
});

describe("validateBefore", () => {
  const LIMIT = 1024;
  const ok = {
    appId: "app1",
    command: "callbackBeforeSendSingleMsgCommand",
    operationId: "",
    payloadJson: "{}",
  };

  it("requires an app id, a command and a JSON object payload", () => {
    expect(() => validateBefore(ok, LIMIT)).not.toThrow();
    expect(fieldOf(() => validateBefore({ ...ok, appId: "" }, LIMIT))).toBe("app_id");
    expect(fieldOf(() => validateBefore({ ...ok, command: "a b" }, LIMIT))).toBe("command");
    // Tencent's commands are dotted.
    expect(() => validateBefore({ ...ok, command: "C2C.CallbackBeforeSendMsg" }, LIMIT)).not.toThrow();
    expect(fieldOf(() => validateBefore({ ...ok, payloadJson: "{" }, LIMIT))).toBe("payload_json");
  });

  it("takes an operation id that can be an HTTP header value: visible ASCII, at most 128", () => {
    expect(() => validateBefore({ ...ok, operationId: "op-1:x/y" }, LIMIT)).not.toThrow();
    for (const bad of ["操作", "a b", "a\r\nb", "x".repeat(129)]) {
      expect(fieldOf(() => validateBefore({ ...ok, operationId: bad }, LIMIT))).toBe("operation_id");
    }
  });

  it("refuses a payload over the limit in bytes as too large", () => {
    const payloadJson = JSON.stringify({ content: "é".repeat(60) }); // 120 bytes of content
    expect(() => validateBefore({ ...ok, payloadJson }, 100)).toThrow(TooLargeError);
    expect(() => validateBefore({ ...ok, payloadJson }, 200)).not.toThrow();
  });

  it(`bounds JSON nesting at ${MAX_JSON_DEPTH} levels, strings not counted`, () => {
    const nested = (depth: number) =>
      `${'{"a":['.repeat(depth / 2 - 1)}{"s":"[[[{{{"}${"]}".repeat(depth / 2 - 1)}`;
    expect(() => validateBefore({ ...ok, payloadJson: nested(MAX_JSON_DEPTH) }, LIMIT)).not.toThrow();
    expect(fieldOf(() => validateBefore({ ...ok, payloadJson: nested(MAX_JSON_DEPTH + 2) }, LIMIT))).toBe(
      "payload_json",
    );
  });
});

describe("the id rules", () => {
  it.each(["李四", "😀👩‍👩‍👧", "مستخدم", "אבג", "user.42", "😀".repeat(256)])(
    "accept %s as an entity id",
    (id) => {
      expect(entityId.safeParse(id).success).toBe(true);
    },
  );

  it.each([
    "",
    "a\u0000b",
    "a\u0007",
    "\u009f",
    "a b",
    "a\u3000b",
    "\uD800",
    "x\uDC00y",
    "*",
    ">",
    "😀".repeat(257),
  ])("refuse %j as an entity id", (id) => {
    expect(entityId.safeParse(id).success).toBe(false);
  });

  it("keep app and event ids ASCII tokens", () => {
    expect(appId.safeParse("app_1-x").success).toBe(true);
    expect(appId.safeParse("app.1").success).toBe(false);
    expect(eventId.safeParse("ev:1.2_3-4").success).toBe(true);
    expect(eventId.safeParse("事件").success).toBe(false);
  });
});

it("names OpenIM's platforms", () => {
  expect([1, 5, 10, 99].map(platformName)).toEqual(["IOS", "Web", "Admin", ""]);
});

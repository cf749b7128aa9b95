import { describe, expect, it } from "vitest";
import { Event, type DeepPartial } from "@herald/proto";
import { ValidationError } from "@herald/runtime";
import { normalizeBatch, normalizeEvent, platformName, validateBefore } from "./events.js";

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

  it("refuses the events that only Herald derives", () => {
    const derived = event({ payload: { $case: "userOnline", value: { userId: "u1", seq: 1 } } });
    expect(fieldOf(() => normalizeEvent(derived, 2, now))).toBe("events[2].user_online");
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
  it("requires an app id, a command and a JSON object payload", () => {
    const ok = {
      appId: "app1",
      command: "callbackBeforeSendSingleMsgCommand",
      operationId: "",
      payloadJson: "{}",
    };
    expect(() => validateBefore(ok)).not.toThrow();
    expect(fieldOf(() => validateBefore({ ...ok, appId: "" }))).toBe("app_id");
    expect(fieldOf(() => validateBefore({ ...ok, command: "a.b" }))).toBe("command");
    expect(fieldOf(() => validateBefore({ ...ok, payloadJson: "{" }))).toBe("payload_json");
  });
});

it("names OpenIM's platforms", () => {
  expect([1, 5, 10, 99].map(platformName)).toEqual(["IOS", "Web", "Admin", ""]);
});

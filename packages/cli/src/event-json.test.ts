import { describe, expect, it } from "vitest";
import { OfflineReason } from "@herald/proto";
import { UsageError } from "./errors.js";
import { eventsFromJson, offlineReason } from "./event-json.js";

const read = (value: unknown, appId?: string) =>
  eventsFromJson(JSON.stringify(value), "events.json", { appId });

function usageError(work: () => unknown): UsageError {
  try {
    work();
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error("expected a UsageError");
}

describe("eventsFromJson", () => {
  it("reads one event, an array and {events}, in camelCase and snake_case alike", () => {
    const snake = {
      id: "e1",
      app_id: "a",
      operation_id: "op1",
      connection_online: { user_id: "李四", conn_id: "c", platform_id: 2 },
    };
    const camel = {
      id: "e1",
      appId: "a",
      operationId: "op1",
      connectionOnline: { userId: "李四", connId: "c", platformId: 2 },
    };
    const [fromSnake] = read(snake);
    const [fromCamel] = read([camel]);
    expect(fromSnake).toEqual(fromCamel);
    expect(fromSnake?.payload).toEqual({
      $case: "connectionOnline",
      value: expect.objectContaining({ userId: "李四", connId: "c", platformId: 2 }) as unknown,
    });
    expect(read({ events: [snake, snake] })).toHaveLength(2);
  });

  it("takes enum names, short or full, and numbers", () => {
    const offline = (reason: unknown) =>
      read({ app_id: "a", connection_offline: { user_id: "u", conn_id: "c", reason } })[0]?.payload;
    for (const reason of ["LOGOUT", "logout", "OFFLINE_REASON_LOGOUT", 1]) {
      expect(offline(reason)).toMatchObject({ value: { reason: OfflineReason.OFFLINE_REASON_LOGOUT } });
    }
    expect(offlineReason("kicked", "--reason")).toBe(OfflineReason.OFFLINE_REASON_KICKED);
  });

  it("fills the event id, the operation id and the app when they are missing", () => {
    const [event] = read({ room_created: { room_id: "r1" } }, "fallback-app");
    expect(event?.id).toMatch(/^cli-[a-z0-9]+-[0-9a-f]{10}$/);
    expect(event?.operationId).toMatch(/^op-/);
    expect(event?.appId).toBe("fallback-app");
  });

  it("names the field of what ts-proto would silently drop or mangle", () => {
    expect(usageError(() => read({ app_id: "a", conection_online: {} })).field).toBe(
      "events[0].conection_online",
    );
    expect(usageError(() => read({ app_id: "a", connection_online: { user: "u" } })).field).toBe(
      "events[0].connection_online.user",
    );
    expect(usageError(() => read({ app_id: "a", connection_online: { user_id: { id: 1 } } })).message).toBe(
      'events[0].connection_online.user_id: expected a string, got {"id":1}',
    );
    expect(
      usageError(() => read([{ app_id: "a", room_joined: { room_id: "r", user_ids: "u1" } }])).field,
    ).toBe("events[0].room_joined.user_ids");
    expect(
      usageError(() => read({ app_id: "a", connection_offline: { user_id: "u", reason: "NAPPING" } })).field,
    ).toBe("events[0].connection_offline.reason");
    expect(usageError(() => read({ app_id: "a", occurred_at: "yesterday", node_reset: {} })).field).toBe(
      "events[0].occurredAt",
    );
    expect(usageError(() => read({ app_id: "a", node_reset: {}, room_created: {} })).field).toBe(
      "events[0].room_created",
    );
    expect(usageError(() => read({ app_id: "a", user_online: { user_id: "u" } })).message).toContain(
      "derived by Herald",
    );
    expect(usageError(() => read({ node_reset: { node_id: "n" } })).field).toBe("events[0].appId");
    expect(usageError(() => eventsFromJson("{", "events.json", {})).field).toBe("events.json");
  });
});

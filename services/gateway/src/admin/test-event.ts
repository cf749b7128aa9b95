import { randomUUID } from "node:crypto";
import { z } from "zod";
import { deliveryIdOf, publishDeliveryJob } from "@herald/bus";
import { eventTypeMatches } from "@herald/config";
import { dialectOf } from "@herald/dialects";
import { Event, type DeepPartial } from "@herald/proto";
import { ValidationError } from "@herald/runtime";
import { findEndpoint, loadApp } from "./app-model.js";
import type { AdminApp, AdminContext } from "./context.js";
import { endpointParams } from "./schemas.js";

const TEST_TYPES = ["msg.sent", "user.online", "user.offline", "room.status"] as const;
type TestType = (typeof TEST_TYPES)[number];
const TEST_USER = "herald-test";

/** A synthetic event of `type`, plainly marked as a test in its ids and content. */
export function testEvent(appId: string, type: TestType): Event {
  const now = new Date();
  const base = {
    id: `test-${randomUUID()}`,
    appId,
    occurredAt: now,
    operationId: `test-${randomUUID()}`,
    type,
  };
  const payloads: Record<TestType, DeepPartial<Event>["payload"]> = {
    "msg.sent": {
      $case: "messageSent",
      value: {
        messageId: "test",
        fromUserId: TEST_USER,
        toUserId: TEST_USER,
        content: "test event from the Herald admin API",
        contentType: 101,
        sentAt: now,
      },
    },
    "user.online": {
      $case: "userOnline",
      value: { userId: TEST_USER, seq: 1, connId: "test", platformId: 1, platform: "test" },
    },
    "user.offline": {
      $case: "userOffline",
      value: { userId: TEST_USER, seq: 2, connId: "test", platformId: 1 },
    },
    "room.status": {
      $case: "roomStatus",
      value: { roomId: TEST_USER, status: 0, kind: 0, time: now.getTime() },
    },
  };
  return Event.fromPartial({ ...base, payload: payloads[type] });
}

/** POST …/test: one synthetic event to one endpoint, through the deliverer like any other job. */
export function registerTestEventRoute(app: AdminApp, ctx: AdminContext): void {
  app.post(
    "/v1/apps/:appId/endpoints/:endpointId/test",
    {
      config: { access: "app" },
      schema: {
        tags: ["endpoints"],
        summary: "Send a synthetic event to the endpoint",
        params: endpointParams,
        body: z.object({ type: z.enum(TEST_TYPES).optional() }).nullish(),
      },
    },
    async (request, reply) => {
      const { appId, endpointId } = request.params;
      const { endpoint } = findEndpoint(await loadApp(ctx, appId), endpointId);
      const dialect = dialectOf(endpoint.dialect);
      const takes = (type: string) => eventTypeMatches(endpoint.eventTypes, type);
      const says = (type: TestType) =>
        eventTypeMatches(dialect.renders, type) && (dialect.says?.(testEvent(appId, type), takes) ?? true);
      // msg.sent unless the dialect cannot say it (rongcloud): then the first type it can.
      const type = request.body?.type ?? TEST_TYPES.find(says) ?? "msg.sent";
      if (!says(type)) {
        throw new ValidationError(`type: dialect ${endpoint.dialect} cannot send ${type} to this endpoint`, {
          field: "type",
        });
      }
      const event = testEvent(appId, type);
      await publishDeliveryJob(ctx.bus, {
        appId,
        endpointId,
        eventId: event.id,
        eventType: type,
        trigger: "test",
        event: Event.encode(event).finish(),
      });
      reply.code(202);
      return { deliveryId: deliveryIdOf(event.id, endpointId) };
    },
  );
}

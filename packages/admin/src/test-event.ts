import { z } from "zod";
import { eventTypeMatches } from "@herald/config";
import { sendTestEvent, TEST_EVENT_TYPES, testEvent, type TestEventType } from "@herald/deliveries";
import { dialectOf } from "@herald/dialects";
import { ValidationError } from "@herald/runtime";
import { findEndpoint, loadApp } from "./app-model.js";
import type { AdminApp, AdminContext } from "./context.js";
import { endpointParams } from "./schemas.js";

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
        body: z.object({ type: z.enum(TEST_EVENT_TYPES).optional() }).nullish(),
      },
    },
    async (request, reply) => {
      const { appId, endpointId } = request.params;
      const { endpoint } = findEndpoint(await loadApp(ctx, appId), endpointId);
      const dialect = dialectOf(endpoint.dialect);
      const takes = (type: string) => eventTypeMatches(endpoint.eventTypes, type);
      const says = (type: TestEventType) =>
        eventTypeMatches(dialect.renders, type) && (dialect.says?.(testEvent(appId, type), takes) ?? true);
      // msg.sent unless the dialect cannot say it (rongcloud): then the first type it can.
      const type = request.body?.type ?? TEST_EVENT_TYPES.find(says) ?? "msg.sent";
      if (!says(type)) {
        throw new ValidationError(`type: dialect ${endpoint.dialect} cannot send ${type} to this endpoint`, {
          field: "type",
        });
      }
      reply.code(202);
      return { deliveryId: await sendTestEvent(ctx.bus, appId, endpointId, type) };
    },
  );
}

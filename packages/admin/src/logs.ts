import { z } from "zod";
import { replayDelivery, replayStored } from "@herald/deliveries";
import { Attempt, Event } from "@herald/proto";
import { NotFoundError } from "@herald/runtime";
import { findEndpoint, loadApp } from "./app-model.js";
import type { AdminApp, AdminContext } from "./context.js";
import { notFound, unavailable } from "./errors.js";
import type { LogStore } from "./log-store.js";
import {
  appIdParam,
  appParams,
  deliveryIdParam,
  endpointParams,
  entityIdParam,
  eventIdParam,
  idSchema,
  isoTime,
  pageSize,
  pageToken,
} from "./schemas.js";
import { attemptJson, eventJson, eventStorySchema } from "./answers.js";

const attemptsQuery = z.object({
  endpointId: idSchema.optional(),
  eventId: eventIdParam.optional(),
  deliveryId: deliveryIdParam.optional(),
  userId: entityIdParam.optional(),
  outcome: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,63}$/, { error: "expected an outcome, e.g. delivered, retry, dead, deny" })
    .optional(),
  kind: z.enum(["delivery", "before"]).optional(),
  from: isoTime.optional(),
  to: isoTime.optional(),
  pageSize: pageSize(500).optional(),
  pageToken: pageToken.max(1000).optional(),
});

const date = (iso: string | undefined) => (iso === undefined ? undefined : new Date(iso));

/** Splits `<eventId>:<endpointId>` at the last ':' (event ids may hold ':'; endpoint ids may not). */
export function splitDeliveryId(deliveryId: string): { eventId: string; endpointId: string } | undefined {
  const cut = deliveryId.lastIndexOf(":");
  if (cut <= 0 || cut === deliveryId.length - 1) return undefined;
  return { eventId: deliveryId.slice(0, cut), endpointId: deliveryId.slice(cut + 1) };
}

/** The log store's "no such event" as a 404 naming the request's own field. */
async function eventDeliveries(logStore: LogStore, appId: string, eventId: string, field: string) {
  try {
    return await logStore.getEventDeliveries({ appId, eventId });
  } catch (err) {
    if (err instanceof NotFoundError) throw notFound(field, err.message);
    throw err;
  }
}

/** Logs from the log store (over gRPC), and replays of what it holds. */
export function registerLogRoutes(app: AdminApp, ctx: AdminContext): void {
  const store = (): LogStore => {
    if (ctx.logStore === undefined) throw unavailable("log store not configured: set LOGSTORE_ADDRESS");
    return ctx.logStore;
  };

  app.get(
    "/v1/apps/:appId/attempts",
    {
      config: { access: "app" },
      schema: {
        tags: ["logs"],
        summary: "Attempts, newest first, filtered and paged",
        params: appParams,
        querystring: attemptsQuery,
      },
    },
    async (request) => {
      const q = request.query;
      const res = await store().listAttempts({
        appId: request.params.appId,
        endpointId: q.endpointId ?? "",
        eventId: q.eventId ?? "",
        deliveryId: q.deliveryId ?? "",
        userId: q.userId ?? "",
        outcome: q.outcome ?? "",
        kind: q.kind ?? "",
        from: date(q.from),
        to: date(q.to),
        pageSize: q.pageSize ?? 0,
        pageToken: q.pageToken ?? "",
      });
      return { attempts: res.attempts.map((a) => Attempt.toJSON(a)), nextPageToken: res.nextPageToken };
    },
  );

  app.get(
    "/v1/apps/:appId/endpoints/:endpointId/activity",
    {
      config: { access: "app" },
      schema: {
        tags: ["logs"],
        summary: "The endpoint's last attempts and last errors",
        params: endpointParams,
        querystring: z.object({ limit: pageSize(200).optional() }),
      },
    },
    async (request) => {
      const res = await store().getEndpointActivity({
        appId: request.params.appId,
        endpointId: request.params.endpointId,
        limit: request.query.limit ?? 0,
      });
      return {
        lastAttempts: res.lastAttempts.map((a) => Attempt.toJSON(a)),
        lastErrors: res.lastErrors.map((a) => Attempt.toJSON(a)),
      };
    },
  );

  app.get(
    "/v1/apps/:appId/events/:eventId",
    {
      config: { access: "app" },
      schema: {
        tags: ["logs"],
        summary: "An event's story: the event, its attempts, the events derived from it with theirs",
        params: z.object({ appId: appIdParam, eventId: eventIdParam }),
        response: { 200: eventStorySchema },
      },
    },
    async (request): Promise<z.infer<typeof eventStorySchema>> => {
      const { appId, eventId } = request.params;
      const res = await eventDeliveries(store(), appId, eventId, "eventId");
      const attempts = (list: Attempt[]) => list.map((a) => attemptJson.parse(Attempt.toJSON(a)));
      const event = (e: Event) => eventJson.parse(Event.toJSON(e));
      return {
        event: res.event === undefined ? null : event(res.event),
        attempts: attempts(res.attempts),
        derived: res.derived.flatMap((d) =>
          d.event === undefined ? [] : [{ event: event(d.event), attempts: attempts(d.attempts) }],
        ),
      };
    },
  );

  app.post(
    "/v1/apps/:appId/deliveries/:deliveryId/replay",
    {
      config: { access: "app" },
      schema: {
        tags: ["logs"],
        summary: "Send one delivery again (same delivery id)",
        params: z.object({ appId: appIdParam, deliveryId: deliveryIdParam }),
      },
    },
    async (request, reply) => {
      const { appId, deliveryId } = request.params;
      const parts = splitDeliveryId(deliveryId);
      if (parts === undefined) {
        throw notFound("deliveryId", `delivery ${deliveryId} not found: expected <eventId>:<endpointId>`);
      }
      findEndpoint(await loadApp(ctx, appId), parts.endpointId);
      const res = await eventDeliveries(store(), appId, parts.eventId, "deliveryId");
      if (res.event === undefined) {
        throw notFound("deliveryId", `the log store has no event ${parts.eventId} of app ${appId}`);
      }
      await replayDelivery(ctx.bus, {
        appId,
        endpointId: parts.endpointId,
        event: res.event,
        eventType: res.attempts.find((a) => a.eventType !== "")?.eventType ?? "",
      });
      reply.code(202);
      return { deliveryId };
    },
  );

  app.post(
    "/v1/apps/:appId/endpoints/:endpointId/replay",
    {
      config: { access: "app" },
      schema: {
        tags: ["logs"],
        summary: "Send again every dead delivery of the endpoint since a time",
        params: endpointParams,
        body: z.object({ since: isoTime }),
      },
    },
    async (request, reply) => {
      const { appId, endpointId } = request.params;
      findEndpoint(await loadApp(ctx, appId), endpointId);
      const res = await store().listDeadDeliveries({
        appId,
        endpointId,
        since: new Date(request.body.since),
        limit: 0,
      });
      reply.code(202);
      return { replayed: await replayStored(ctx.bus, appId, endpointId, res.deliveries) };
    },
  );
}

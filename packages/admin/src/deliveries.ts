import { z } from "zod";
import { replayDeliveries, type StoredEndpointDelivery } from "@herald/deliveries";
import type { Delivery, ListDeliveriesRequest } from "@herald/proto";
import { endpointsOf, loadApp } from "./app-model.js";
import type { AdminApp, AdminContext } from "./context.js";
import { unavailable } from "./errors.js";
import { bulkReplayResponse, deliveriesResponse, type DeliveryJson } from "./answers.js";
import type { LogStore } from "./log-store.js";
import { appParams, entityIdParam, eventIdParam, idSchema, isoTime, pageSize, pageToken } from "./schemas.js";

/** The filters of a delivery listing; a bulk replay takes the same ones in its body. */
const deliveryFilter = z.object({
  from: isoTime.optional().describe("deliveries with an attempt at or after this time"),
  to: isoTime.optional().describe("deliveries as of this time (their attempts before it)"),
  eventType: z
    .string()
    .regex(/^[a-z][A-Za-z0-9_.-]{0,127}$/, { error: "expected an event type, e.g. msg.sent, user.online" })
    .optional(),
  eventId: eventIdParam.optional().describe("the deliveries of one event"),
  outcome: z
    .enum(["delivered", "retry", "dead"], { error: "expected delivered, retry or dead" })
    .optional()
    .describe("the latest attempt's: delivered, retry (failed, will be tried again) or dead"),
  endpointId: idSchema.optional(),
  userId: entityIdParam.optional().describe("deliveries of events naming this user"),
  roomId: entityIdParam.optional().describe("deliveries of events in this room"),
  search: z
    .string()
    .min(1, { error: "expected 1 to 200 characters" })
    .refine((s) => [...s].length <= 200, { error: "expected 1 to 200 characters" })
    .optional()
    .describe(
      "text in a request or response body, case-insensitive, literal (% and _ too); scans the range, without from the last day",
    ),
});

const deliveriesQuery = deliveryFilter.extend({
  pageSize: pageSize(500).optional(),
  pageToken: pageToken.max(1000).optional(),
});

/** Most deliveries one bulk replay sends; the default is smaller, so a forgotten filter stays small. */
export const BULK_REPLAY_MAX = 10_000;
const BULK_REPLAY_DEFAULT = 1_000;
/** Deliveries per log store page in a bulk replay: they carry their events, so fewer than a listing's. */
const REPLAY_PAGE_SIZE = 200;

const bulkReplayBody = deliveryFilter
  .extend({
    max: z
      .number({ error: `expected an integer, 1 to ${BULK_REPLAY_MAX}` })
      .int({ error: `expected an integer, 1 to ${BULK_REPLAY_MAX}` })
      .min(1, { error: `expected an integer, 1 to ${BULK_REPLAY_MAX}` })
      .max(BULK_REPLAY_MAX, { error: `expected an integer, 1 to ${BULK_REPLAY_MAX}` })
      .optional()
      .describe(`at most this many deliveries (default ${BULK_REPLAY_DEFAULT})`),
    dryRun: z.boolean().optional().describe("count what would be replayed, send nothing"),
  })
  .describe("DeliveryReplay");

type DeliveryFilter = z.infer<typeof deliveryFilter>;

function listRequest(appId: string, f: DeliveryFilter): ListDeliveriesRequest {
  return {
    appId,
    from: f.from === undefined ? undefined : new Date(f.from),
    to: f.to === undefined ? undefined : new Date(f.to),
    eventType: f.eventType ?? "",
    eventId: f.eventId ?? "",
    outcome: f.outcome ?? "",
    endpointId: f.endpointId ?? "",
    userId: f.userId ?? "",
    roomId: f.roomId ?? "",
    search: f.search ?? "",
    pageSize: 0,
    pageToken: "",
    replayableOnly: false,
  };
}

function toJson(d: Delivery): DeliveryJson {
  return {
    deliveryId: d.deliveryId,
    eventId: d.eventId,
    endpointId: d.endpointId,
    eventType: d.eventType,
    outcome: d.outcome,
    attemptCount: d.attemptCount,
    firstAt: d.firstAt?.toISOString() ?? null,
    lastAt: d.lastAt?.toISOString() ?? null,
    statusCode: d.statusCode,
    latencyMs: d.latencyMs,
    error: d.error,
    url: d.url,
    dialect: d.dialect,
    trigger: d.trigger,
    lastAttemptId: d.lastAttemptId,
    replayable: d.replayable,
  };
}

/**
 * Deliveries (one per delivery id, attempts folded in) and a bulk replay of a filtered set, through
 * @herald/deliveries. A delivery is replayable when its event is on record: a dead attempt's own copy
 * or the event log's. The log store gives the set as of the request, `to` pinned to then, so a
 * dry run and the replay after it count the same deliveries unless new ones arrive in the range.
 */
export function registerDeliveryRoutes(app: AdminApp, ctx: AdminContext): void {
  const store = (): LogStore => {
    if (ctx.logStore === undefined) throw unavailable("log store not configured: set LOGSTORE_ADDRESS");
    return ctx.logStore;
  };

  app.get(
    "/v1/apps/:appId/deliveries",
    {
      config: { access: "app" },
      schema: {
        tags: ["logs"],
        summary: "Deliveries, one row each with its attempts folded in, newest first, filtered and paged",
        params: appParams,
        querystring: deliveriesQuery,
        response: { 200: deliveriesResponse },
      },
    },
    async (request): Promise<z.infer<typeof deliveriesResponse>> => {
      const q = request.query;
      const res = await store().listDeliveries({
        ...listRequest(request.params.appId, q),
        pageSize: q.pageSize ?? 0,
        pageToken: q.pageToken ?? "",
      });
      return { deliveries: res.deliveries.map(toJson), nextPageToken: res.nextPageToken };
    },
  );

  app.post(
    "/v1/apps/:appId/deliveries/replay",
    {
      config: { access: "app" },
      schema: {
        tags: ["logs"],
        summary: "Send again every delivery that matches the filters (up to max), or count them (dryRun)",
        params: appParams,
        body: bulkReplayBody,
        response: { 200: bulkReplayResponse, 202: bulkReplayResponse },
      },
    },
    async (request, reply): Promise<z.infer<typeof bulkReplayResponse>> => {
      const { appId } = request.params;
      const { max = BULK_REPLAY_DEFAULT, dryRun = false, ...filter } = request.body;
      const endpoints = new Set(endpointsOf(await loadApp(ctx, appId)).map((e) => e.endpoint.id));
      const base = { ...listRequest(appId, filter), replayableOnly: true, pageSize: REPLAY_PAGE_SIZE };
      // Pinned, so the pages walk one set even while new attempts land.
      base.to ??= new Date();
      const chosen: StoredEndpointDelivery[] = [];
      let skipped = 0;
      let more = false;
      let pageToken = "";
      do {
        const res = await store().listDeliveries({ ...base, pageToken });
        for (const d of res.deliveries) {
          if (!endpoints.has(d.endpointId) || d.event.length === 0) {
            skipped += 1;
          } else if (chosen.length < max) {
            chosen.push({
              deliveryId: d.deliveryId,
              eventId: d.eventId,
              eventType: d.eventType,
              endpointId: d.endpointId,
              event: d.event,
            });
          } else {
            more = true;
            break;
          }
        }
        pageToken = res.nextPageToken;
      } while (pageToken !== "" && !more);
      // Oldest first, as they happened.
      chosen.reverse();
      const queued = dryRun ? 0 : await replayDeliveries(ctx.bus, appId, chosen);
      reply.code(dryRun ? 200 : 202);
      return { dryRun, queued, matched: chosen.length, more, skipped };
    },
  );
}

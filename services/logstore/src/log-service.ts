import type pg from "pg";
import type {
  DeliveryLogServiceServer,
  GetEndpointActivityRequest,
  GetEndpointActivityResponse,
  GetEventDeliveriesRequest,
  GetEventDeliveriesResponse,
  GetOverviewRequest,
  GetOverviewResponse,
  ListAttemptsRequest,
  ListAttemptsResponse,
  ListDeadDeliveriesRequest,
  ListDeadDeliveriesResponse,
  ListDeliveriesRequest,
  ListDeliveriesResponse,
} from "@herald/proto";
import { NotFoundError, ValidationError, type Logger } from "@herald/runtime";
import { unaryHandler } from "@herald/grpc";
import { listDeliveries } from "./delivery-listing.js";
import { deadDeliveries, endpointActivity, eventDeliveries, listAttempts } from "./queries.js";
import { checkOverviewRange, overview } from "./overview.js";

const KINDS = new Set(["", "delivery", "before"]);
/** A delivery's outcome is its latest attempt's. */
const DELIVERY_OUTCOMES = new Set(["", "delivered", "retry", "dead"]);
const SEARCH_MAX_CHARS = 200;

/** DeliveryLogService over the log store's tables. Field names in errors are as the proto spells them. */
export function createDeliveryLogService(pool: pg.Pool, log: Logger): DeliveryLogServiceServer {
  const answer = (method: string) => unaryHandler(log, method);
  return {
    listAttempts: answer("ListAttempts")<ListAttemptsRequest, ListAttemptsResponse>(async (req) => {
      required("app_id", req.appId);
      if (!KINDS.has(req.kind)) {
        throw new ValidationError(
          `kind: must be "delivery", "before" or empty, not ${JSON.stringify(req.kind)}`,
          {
            field: "kind",
          },
        );
      }
      const from = timestamp("from", req.from);
      const to = timestamp("to", req.to);
      if (from && to && from.getTime() > to.getTime()) {
        throw new ValidationError("to: must not be before from", { field: "to" });
      }
      return listAttempts(pool, {
        appId: req.appId,
        endpointId: req.endpointId,
        eventId: req.eventId,
        deliveryId: req.deliveryId,
        userId: req.userId,
        outcome: req.outcome,
        kind: req.kind,
        from,
        to,
        pageSize: bounded("page_size", req.pageSize, 50, 500),
        pageToken: req.pageToken,
      });
    }),
    getEventDeliveries: answer("GetEventDeliveries")<GetEventDeliveriesRequest, GetEventDeliveriesResponse>(
      async (req) => {
        required("app_id", req.appId);
        required("event_id", req.eventId);
        const found = await eventDeliveries(pool, req.appId, req.eventId);
        if (found.event === undefined && found.attempts.length === 0 && found.derived.length === 0) {
          throw new NotFoundError(`event ${req.eventId} of app ${req.appId} is not on record`, {
            resource: "event",
            id: req.eventId,
          });
        }
        return found;
      },
    ),
    getEndpointActivity: answer("GetEndpointActivity")<
      GetEndpointActivityRequest,
      GetEndpointActivityResponse
    >(async (req) => {
      required("app_id", req.appId);
      required("endpoint_id", req.endpointId);
      const limit = bounded("limit", req.limit, 20, 200);
      return endpointActivity(pool, req.appId, req.endpointId, limit);
    }),
    listDeadDeliveries: answer("ListDeadDeliveries")<ListDeadDeliveriesRequest, ListDeadDeliveriesResponse>(
      async (req) => {
        required("app_id", req.appId);
        required("endpoint_id", req.endpointId);
        const since = timestamp("since", req.since);
        if (since === undefined) throw new ValidationError("since: must be set", { field: "since" });
        const limit = bounded("limit", req.limit, 1000, 10_000);
        return { deliveries: await deadDeliveries(pool, req.appId, req.endpointId, since, limit) };
      },
    ),
    getOverview: answer("GetOverview")<GetOverviewRequest, GetOverviewResponse>(async (req) => {
      required("app_id", req.appId);
      const from = timestamp("from", req.from);
      const to = timestamp("to", req.to);
      if (from === undefined) throw new ValidationError("from: must be set", { field: "from" });
      if (to === undefined) throw new ValidationError("to: must be set", { field: "to" });
      const range = {
        appId: req.appId,
        endpointId: req.endpointId,
        from,
        to,
        bucketSeconds: req.bucketSeconds,
      };
      checkOverviewRange(range);
      return overview(pool, range);
    }),
    listDeliveries: answer("ListDeliveries")<ListDeliveriesRequest, ListDeliveriesResponse>(async (req) => {
      required("app_id", req.appId);
      if (!DELIVERY_OUTCOMES.has(req.outcome)) {
        throw new ValidationError(
          `outcome: must be "delivered", "retry", "dead" or empty, not ${JSON.stringify(req.outcome)}`,
          { field: "outcome" },
        );
      }
      if ([...req.search].length > SEARCH_MAX_CHARS) {
        throw new ValidationError(`search: at most ${SEARCH_MAX_CHARS} characters`, { field: "search" });
      }
      const from = timestamp("from", req.from);
      const to = timestamp("to", req.to);
      if (from && to && from.getTime() > to.getTime()) {
        throw new ValidationError("to: must not be before from", { field: "to" });
      }
      return listDeliveries(pool, {
        appId: req.appId,
        from,
        to,
        eventType: req.eventType,
        eventId: req.eventId,
        outcome: req.outcome,
        endpointId: req.endpointId,
        userId: req.userId,
        roomId: req.roomId,
        search: req.search,
        pageSize: bounded("page_size", req.pageSize, 50, 500),
        pageToken: req.pageToken,
        replayableOnly: req.replayableOnly,
      });
    }),
  };
}

function required(field: string, value: string): void {
  if (value === "") throw new ValidationError(`${field}: must not be empty`, { field });
}

/** 0 means the default; anything outside 1..max is refused rather than silently clamped. */
function bounded(field: string, value: number, fallback: number, max: number): number {
  if (value === 0) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new ValidationError(`${field}: must be 0 (default ${fallback}) to ${max}, not ${value}`, { field });
  }
  return value;
}

function timestamp(field: string, value: Date | undefined): Date | undefined {
  if (value === undefined) return undefined;
  if (Number.isNaN(value.getTime())) throw new ValidationError(`${field}: not a valid time`, { field });
  return value;
}

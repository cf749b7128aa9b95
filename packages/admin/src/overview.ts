import { z } from "zod";
import type { OverviewStats } from "@herald/proto";
import { endpointsOf, loadApp } from "./app-model.js";
import type { AdminApp, AdminContext } from "./context.js";
import { unavailable } from "./errors.js";
import { appParams, idSchema } from "./schemas.js";
import { OVERVIEW_RANGE_NAMES, overviewSchema, type Overview, type OverviewRangeName } from "./answers.js";

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** The span and series bucket width of each range the overview takes (names: OVERVIEW_RANGE_NAMES). */
export const OVERVIEW_RANGES: Record<OverviewRangeName, { spanMs: number; bucketSeconds: number }> = {
  hour: { spanMs: HOUR_MS, bucketSeconds: 60 },
  day: { spanMs: 24 * HOUR_MS, bucketSeconds: 60 * 60 },
  week: { spanMs: 7 * 24 * HOUR_MS, bucketSeconds: 60 * 60 },
};

const overviewQuery = z.object({
  range: z.enum(OVERVIEW_RANGE_NAMES).default("day"),
  endpointId: idSchema.optional(),
});

type OverviewJson = Overview;

const EMPTY: OverviewStats = { attempts: 0, delivered: 0, retried: 0, dead: 0, p50Ms: 0, p99Ms: 0 };

function statsJson(s: OverviewStats | undefined): OverviewJson["total"] {
  const { attempts, delivered, retried, dead, p50Ms, p99Ms } = s ?? EMPTY;
  const ended = delivered + dead;
  return {
    attempts,
    delivered,
    retried,
    dead,
    successRate: ended === 0 ? null : delivered / ended,
    p50Ms,
    p99Ms,
  };
}

/** The range ending with the bucket that holds `now`. */
export function overviewWindow(
  range: OverviewRangeName,
  now: Date,
): { from: Date; to: Date; bucketSeconds: number } {
  const { spanMs, bucketSeconds } = OVERVIEW_RANGES[range];
  const bucketMs = bucketSeconds * 1000;
  const to = Math.floor(now.getTime() / bucketMs) * bucketMs + bucketMs;
  return { from: new Date(to - spanMs), to: new Date(to), bucketSeconds };
}

export function registerOverviewRoutes(app: AdminApp, ctx: AdminContext): void {
  app.get(
    "/v1/apps/:appId/overview",
    {
      config: { access: "app" },
      schema: {
        tags: ["logs"],
        summary: "Deliveries, success rate, p50/p99 latency and dead count over the last hour, day or week",
        params: appParams,
        querystring: overviewQuery,
        response: { 200: overviewSchema },
      },
    },
    async (request): Promise<OverviewJson> => {
      const { appId } = request.params;
      const { range, endpointId } = request.query;
      if (ctx.logStore === undefined) throw unavailable("log store not configured: set LOGSTORE_ADDRESS");
      const config = await loadApp(ctx, appId);
      const window = overviewWindow(range, new Date());
      const res = await ctx.logStore.getOverview({ appId, endpointId: endpointId ?? "", ...window });
      const byId = new Map(res.endpoints.map((e) => [e.endpointId, e.stats]));
      const configured = endpointsOf(config).map((e) => e.endpoint.id);
      const ids = endpointId === undefined ? new Set([...configured, ...byId.keys()]) : new Set([endpointId]);
      return {
        range,
        from: window.from.toISOString(),
        to: window.to.toISOString(),
        bucketSeconds: window.bucketSeconds,
        total: statsJson(res.total),
        endpoints: [...ids].sort().map((id) => ({ endpointId: id, ...statsJson(byId.get(id)) })),
        series: res.series.map((b) => ({
          start: (b.start ?? window.from).toISOString(),
          ...statsJson(b.stats),
        })),
      };
    },
  );
}

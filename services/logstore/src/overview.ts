import type pg from "pg";
import type { EndpointOverview, GetOverviewResponse, OverviewStats } from "@herald/proto";
import { ValidationError } from "@herald/runtime";
import { query } from "./queries.js";

/** The bucket widths herald.roll_up_attempts keeps, coarsest first. */
const ROLLUP_WIDTHS_S = [3600, 900, 60] as const;
/** At most this many series buckets in one answer. */
export const MAX_OVERVIEW_BUCKETS = 10_000;

export interface OverviewRange {
  appId: string;
  /** "" for every endpoint of the app. */
  endpointId: string;
  from: Date;
  to: Date;
  bucketSeconds: number;
}

/**
 * The largest latency (ms, whole) of histogram bucket i of herald.latency_bucket: 1 for bucket 0,
 * floor(2^(i/4)) above. A percentile is reported as this bound of the bucket holding it.
 */
export function latencyBucketMaxMs(i: number): number {
  return Math.floor(2 ** (i / 4) + 1e-9);
}

/** Refuses a range the rollups cannot answer exactly; field names as the proto spells them. */
export function checkOverviewRange(r: OverviewRange): void {
  const minute = 60_000;
  if (r.from.getTime() % minute !== 0) {
    throw new ValidationError("from: must be a whole minute", { field: "from" });
  }
  if (r.to.getTime() % minute !== 0) throw new ValidationError("to: must be a whole minute", { field: "to" });
  if (r.to.getTime() <= r.from.getTime()) {
    throw new ValidationError("to: must be after from", { field: "to" });
  }
  const bucketMs = r.bucketSeconds * 1000;
  if (!Number.isInteger(r.bucketSeconds) || r.bucketSeconds < 60 || r.bucketSeconds % 60 !== 0) {
    throw new ValidationError(`bucket_seconds: must be a whole number of minutes, not ${r.bucketSeconds}`, {
      field: "bucket_seconds",
    });
  }
  const span = r.to.getTime() - r.from.getTime();
  if (span % bucketMs !== 0) {
    throw new ValidationError("bucket_seconds: must divide the range from..to", { field: "bucket_seconds" });
  }
  if (span / bucketMs > MAX_OVERVIEW_BUCKETS) {
    throw new ValidationError(`bucket_seconds: at most ${MAX_OVERVIEW_BUCKETS} buckets from..to`, {
      field: "bucket_seconds",
    });
  }
}

/** The coarsest rollup whose buckets tile both the series buckets and the range. */
function rollupWidth(r: OverviewRange): number {
  const fromS = r.from.getTime() / 1000;
  return ROLLUP_WIDTHS_S.find((w) => r.bucketSeconds % w === 0 && fromS % w === 0) ?? 60;
}

/** One group's counts, and the latency buckets holding its p50 and p99 (nearest rank), as SQL sums them. */
interface StatsRow {
  /** 1: per endpoint, 2: per series bucket, 3: the total (GROUPING(endpoint_id, slot)). */
  g: number;
  endpoint_id: string | null;
  slot: number | null;
  /** bigints, as text. */
  attempts: string;
  delivered: string;
  retried: string;
  dead: string;
  p50_bucket: number | null;
  p99_bucket: number | null;
}

/**
 * Counts and percentiles per endpoint, per series bucket (slot) and in total, in one statement, so
 * that a few hundred rows leave Postgres however many rollup rows it read.
 */
const STATS_SQL = (where: string, bucketParam: string, perEndpoint: boolean) => `
WITH cells AS (
  SELECT ${perEndpoint ? "GROUPING(endpoint_id, slot)" : "2 + GROUPING(slot)"} AS g,
    ${perEndpoint ? "endpoint_id" : "NULL::text AS endpoint_id"}, slot, latency_bucket, sum(attempts) AS n,
    coalesce(sum(attempts) FILTER (WHERE outcome = 'delivered'), 0) AS delivered,
    coalesce(sum(attempts) FILTER (WHERE outcome = 'retry'), 0) AS retried,
    coalesce(sum(attempts) FILTER (WHERE outcome = 'dead'), 0) AS dead
  FROM (
    SELECT endpoint_id, outcome, latency_bucket, attempts,
      (extract(epoch FROM bucket_start - $3::timestamptz)::bigint / ${bucketParam}::bigint)::int AS slot
    FROM herald.attempt_rollups WHERE ${where}
  ) r
  GROUP BY GROUPING SETS (${perEndpoint ? "(endpoint_id, latency_bucket), " : ""}(slot, latency_bucket), (latency_bucket))
), ranked AS (
  SELECT *, sum(n) OVER (PARTITION BY g, endpoint_id, slot ORDER BY latency_bucket) AS below,
    sum(n) OVER (PARTITION BY g, endpoint_id, slot) AS total
  FROM cells
)
SELECT g, endpoint_id, slot, total::text AS attempts, sum(delivered)::text AS delivered,
  sum(retried)::text AS retried, sum(dead)::text AS dead,
  min(latency_bucket) FILTER (WHERE below >= ceil(0.5 * total)) AS p50_bucket,
  min(latency_bucket) FILTER (WHERE below >= ceil(0.99 * total)) AS p99_bucket
FROM ranked GROUP BY g, endpoint_id, slot, total`;

const EMPTY: OverviewStats = { attempts: 0, delivered: 0, retried: 0, dead: 0, p50Ms: 0, p99Ms: 0 };

/** A group's row as OverviewStats: percentiles as the largest whole ms of their bucket. */
export function statsOf(r: Omit<StatsRow, "g" | "endpoint_id" | "slot">): OverviewStats {
  const ms = (bucket: number | null) => (bucket === null ? 0 : latencyBucketMaxMs(bucket));
  return {
    attempts: Number(r.attempts),
    delivered: Number(r.delivered),
    retried: Number(r.retried),
    dead: Number(r.dead),
    p50Ms: ms(r.p50_bucket),
    p99Ms: ms(r.p99_bucket),
  };
}

/** The overview of an app or endpoint over a checked range, from herald.attempt_rollups. */
export async function overview(pool: pg.Pool, r: OverviewRange): Promise<GetOverviewResponse> {
  const values: unknown[] = [r.appId, rollupWidth(r), r.from, r.to, r.bucketSeconds];
  const where = `app_id = $1 AND width_s = $2 AND bucket_start >= $3 AND bucket_start < $4${
    r.endpointId === "" ? "" : ` AND endpoint_id = $${values.push(r.endpointId)}`
  }`;
  // One endpoint asked for: its row is the total, not grouped a second time.
  const rows = await query<StatsRow>(pool, STATS_SQL(where, "$5", r.endpointId === ""), values);
  const slots = (r.to.getTime() - r.from.getTime()) / (r.bucketSeconds * 1000);
  const series: OverviewStats[] = Array.from({ length: slots }, () => EMPTY);
  const endpoints: EndpointOverview[] = [];
  let total = EMPTY;
  for (const row of rows) {
    if (row.g === 1 && row.endpoint_id !== null) {
      endpoints.push({ endpointId: row.endpoint_id, stats: statsOf(row) });
    } else if (row.g === 2 && row.slot !== null && row.slot >= 0 && row.slot < slots) {
      series[row.slot] = statsOf(row);
    } else if (row.g === 3) {
      total = statsOf(row);
    }
  }
  endpoints.sort((a, b) => (a.endpointId < b.endpointId ? -1 : a.endpointId > b.endpointId ? 1 : 0));
  if (r.endpointId !== "" && total.attempts > 0) endpoints.push({ endpointId: r.endpointId, stats: total });
  return {
    total,
    endpoints,
    series: series.map((stats, i) => ({
      start: new Date(r.from.getTime() + i * r.bucketSeconds * 1000),
      stats,
    })),
  };
}

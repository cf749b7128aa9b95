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

/** Attempts by outcome and latency bucket, as summed from the rollups. */
interface Cell {
  outcome: string;
  latency_bucket: number;
  /** bigint, as text. */
  n: string;
}

/** Folds cells into counts and percentiles (nearest rank over the latency histogram). */
export function overviewStats(
  cells: Iterable<{ outcome: string; latencyBucket: number; n: number }>,
): OverviewStats {
  const stats: OverviewStats = { attempts: 0, delivered: 0, retried: 0, dead: 0, p50Ms: 0, p99Ms: 0 };
  const histogram = new Map<number, number>();
  for (const c of cells) {
    stats.attempts += c.n;
    if (c.outcome === "delivered") stats.delivered += c.n;
    else if (c.outcome === "retry") stats.retried += c.n;
    else if (c.outcome === "dead") stats.dead += c.n;
    histogram.set(c.latencyBucket, (histogram.get(c.latencyBucket) ?? 0) + c.n);
  }
  const ordered = [...histogram].sort((a, b) => a[0] - b[0]);
  const percentile = (q: number): number => {
    const rank = Math.ceil(q * stats.attempts);
    let seen = 0;
    for (const [bucket, n] of ordered) {
      seen += n;
      if (seen >= rank) return latencyBucketMaxMs(bucket);
    }
    return 0;
  };
  if (stats.attempts > 0) {
    stats.p50Ms = percentile(0.5);
    stats.p99Ms = percentile(0.99);
  }
  return stats;
}

const cell = (c: Cell) => ({ outcome: c.outcome, latencyBucket: c.latency_bucket, n: Number(c.n) });

/** The overview of an app or endpoint over a checked range, from herald.attempt_rollups. */
export async function overview(pool: pg.Pool, r: OverviewRange): Promise<GetOverviewResponse> {
  const values: unknown[] = [r.appId, rollupWidth(r), r.from, r.to];
  const where = `app_id = $1 AND width_s = $2 AND bucket_start >= $3 AND bucket_start < $4${
    r.endpointId === "" ? "" : ` AND endpoint_id = $${values.push(r.endpointId)}`
  }`;
  const [byEndpoint, bySlot] = await Promise.all([
    query<Cell & { endpoint_id: string }>(
      pool,
      `SELECT endpoint_id, outcome, latency_bucket, sum(attempts)::text AS n FROM herald.attempt_rollups
       WHERE ${where} GROUP BY 1, 2, 3`,
      values,
    ),
    query<Cell & { slot: number }>(
      pool,
      `SELECT floor(extract(epoch FROM bucket_start - $3::timestamptz) / $${values.length + 1}::int)::int AS slot,
         outcome, latency_bucket, sum(attempts)::text AS n FROM herald.attempt_rollups
       WHERE ${where} GROUP BY 1, 2, 3`,
      [...values, r.bucketSeconds],
    ),
  ]);
  const endpoints = new Map<string, Cell[]>();
  for (const row of byEndpoint) {
    const list = endpoints.get(row.endpoint_id);
    if (list === undefined) endpoints.set(row.endpoint_id, [row]);
    else list.push(row);
  }
  const slots = (r.to.getTime() - r.from.getTime()) / (r.bucketSeconds * 1000);
  const bySlotIndex: Cell[][] = Array.from({ length: slots }, () => []);
  for (const row of bySlot) bySlotIndex[row.slot]?.push(row);
  const perEndpoint: EndpointOverview[] = [...endpoints]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([endpointId, cells]) => ({ endpointId, stats: overviewStats(cells.map(cell)) }));
  return {
    total: overviewStats(byEndpoint.map(cell)),
    endpoints: perEndpoint,
    series: bySlotIndex.map((cells, i) => ({
      start: new Date(r.from.getTime() + i * r.bucketSeconds * 1000),
      stats: overviewStats(cells.map(cell)),
    })),
  };
}

// The overview of a busy endpoint over a day (GetOverview, answered from the log store's rollups)
// beside a plain count(*) of the same attempt rows, in one run on one Postgres. The attempts are made
// in Postgres (generate_series) and rolled up in the same statement, as the log store's ingest does
// (herald.roll_up_attempts over the rows the insert returned).
import pg from "pg";
import { credentials } from "@grpc/grpc-js";
import { DeliveryLogServiceClient, GetOverviewRequest, type GetOverviewResponse } from "@herald/proto";
import { startNats, startPostgres } from "@herald/testkit";
import { startService, stopAll } from "@herald/e2e";
import { percentile, type Row } from "./stats.js";

const TOTAL = Number(process.env.BENCH_OVERVIEW_ROWS ?? 5_000_000);
const CHUNK = 500_000;
const RUNS = 7;
const APP_ID = "bench";
// Half of every attempt goes to the busy endpoint, the rest to nine others.
const BUSY = "ep-0";
const DAY_MS = 86_400_000;
const BUCKET_MS = 60 * 60_000;

/**
 * Inserts attempts g = lo..hi into `table`, attempt g at from + floor(g * span / total) ms, and rolls
 * them up as ingest does.
 */
const fill = (table: string) => `
WITH inserted AS (
  INSERT INTO herald.${table} (id, at, kind, app_id, endpoint_id, event_id, delivery_id, attempt, event_type,
    outcome, status, latency_ms)
  SELECT 'at-' || g, $1::timestamptz + (g * $4::bigint / $5::bigint) * interval '1 millisecond', 'delivery', $6,
    CASE WHEN g % 2 = 0 THEN '${BUSY}' ELSE 'ep-' || (1 + g % 9) END, 'ev-' || g, 'ev-' || g || ':ep', 1,
    'msg.sent',
    CASE WHEN g % 100 = 1 THEN 'dead' WHEN g % 20 = 1 THEN 'retry' ELSE 'delivered' END,
    200,
    -- Mostly tens of ms, a tail into seconds: realistic spread over the latency buckets.
    (3 + 40 * random() + CASE WHEN g % 50 = 0 THEN 3000 * random() ELSE 0 END)::int
  FROM generate_series($2::bigint, $3::bigint) g
  ON CONFLICT DO NOTHING
  RETURNING kind, app_id, endpoint_id, at, outcome, latency_ms)
SELECT herald.roll_up_attempts(array_agg(app_id), array_agg(endpoint_id), array_agg(at), array_agg(outcome),
  array_agg(latency_ms))
FROM inserted WHERE kind = 'delivery'`;

const partitionName = (day: Date) => `attempts_p${day.toISOString().slice(0, 10).replaceAll("-", "")}`;
const dayOf = (t: number) => new Date(Math.floor(t / DAY_MS) * DAY_MS);

/**
 * Fills the day partitions of [from, to) as a bulk load does: each day's table is filled while
 * detached (no index to keep up row by row), then attached, which builds its indexes as Postgres
 * would have them. Attempt g of TOTAL falls at from + floor(g * span / TOTAL) ms.
 */
async function fillDays(pool: pg.Pool, from: Date, to: Date): Promise<void> {
  const span = BigInt(to.getTime() - from.getTime());
  const total = BigInt(TOTAL);
  // The first g at or after `t` (integer arithmetic, as the SQL computes `at`).
  const firstAt = (t: number) => {
    const d = BigInt(Math.max(0, t - from.getTime()));
    const g = (d * total + span - 1n) / span;
    return Number(g > total ? total : g);
  };
  for (
    let day = dayOf(from.getTime());
    day.getTime() < to.getTime();
    day = new Date(day.getTime() + DAY_MS)
  ) {
    const name = partitionName(day);
    const end = new Date(day.getTime() + DAY_MS);
    await pool.query(`DROP TABLE IF EXISTS herald.${name}`);
    await pool.query(`CREATE TABLE herald.${name} (LIKE herald.attempts INCLUDING DEFAULTS)`);
    const [first, last] = [firstAt(day.getTime()), firstAt(end.getTime())];
    for (let lo = first; lo < last; lo += CHUNK) {
      const hi = Math.min(last, lo + CHUNK) - 1;
      await pool.query(fill(name), [from, lo, hi, span.toString(), TOTAL, APP_ID]);
    }
    await pool.query(
      `ALTER TABLE herald.attempts ATTACH PARTITION herald.${name}
       FOR VALUES FROM ('${day.toISOString()}') TO ('${end.toISOString()}')`,
    );
  }
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const started = process.hrtime.bigint();
  const result = await work();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, result };
}

export async function benchOverview(): Promise<Row[]> {
  const [nats, postgres] = await Promise.all([startNats({ source: "local" }), startPostgres()]);
  const logstore = await startService("logstore", {
    NATS_URL: nats.url,
    HERALD_NAMESPACE: nats.namespace,
    DATABASE_URL: postgres.url,
    LOG_LEVEL: "warn",
  });
  const pool = new pg.Pool({ connectionString: postgres.url, max: 2 });
  let client: DeliveryLogServiceClient | undefined;
  try {
    // Ready means migrated and today's partitions made.
    await logstore.waitReady();
    client = new DeliveryLogServiceClient(logstore.grpcAddress, credentials.createInsecure());
    // The day the API's "day" range shows: 24 buckets of 1 h, the last one holding now.
    const to = new Date(Math.floor(Date.now() / BUCKET_MS) * BUCKET_MS + BUCKET_MS);
    const from = new Date(to.getTime() - DAY_MS);
    const filled = await timed(async () => {
      await fillDays(pool, from, to);
      // The count gets every help Postgres can give it: statistics and a visibility map (index-only scans).
      await pool.query("VACUUM ANALYZE herald.attempts");
      await pool.query("ANALYZE herald.attempt_rollups");
    });

    const request = GetOverviewRequest.fromPartial({
      appId: APP_ID,
      endpointId: BUSY,
      from,
      to,
      bucketSeconds: BUCKET_MS / 1000,
    });
    const overview = () =>
      new Promise<GetOverviewResponse>((resolve, reject) =>
        client?.getOverview(request, (err, res) => (err ? reject(err) : resolve(res))),
      );
    const count = async () =>
      Number(
        (
          await pool.query<{ n: string }>(
            "SELECT count(*) AS n FROM herald.attempts WHERE app_id = $1 AND endpoint_id = $2 AND at >= $3 AND at < $4",
            [APP_ID, BUSY, from, to],
          )
        ).rows[0]?.n,
      );
    // One of each first: caches warm for both.
    const counted = await count();
    const answer = await overview();
    if (answer.total?.attempts !== counted) {
      throw new Error(`overview counted ${answer.total?.attempts} attempts of ${BUSY}, count(*) ${counted}`);
    }
    const overviewMs: number[] = [];
    const countMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      overviewMs.push((await timed(overview)).ms);
      countMs.push((await timed(count)).ms);
    }
    const { rows: size } = await pool.query<{ rollups: string }>(
      "SELECT count(*) AS rollups FROM herald.attempt_rollups WHERE app_id = $1 AND endpoint_id = $2 AND width_s = 3600 AND bucket_start >= $3 AND bucket_start < $4",
      [APP_ID, BUSY, from, to],
    );
    const o = percentile(overviewMs, 50);
    const c = percentile(countMs, 50);
    console.log(
      `overview: ${TOTAL.toLocaleString("en-US")} attempts filled and rolled up in ${(filled.ms / 1000).toFixed(1)} s; ` +
        `${BUSY} has ${counted.toLocaleString("en-US")} of them over the day (${size[0]?.rollups} rollup rows read); ` +
        `the overview is ${(c / o).toFixed(1)}x faster than count(*)${c / o >= 10 ? "" : " (below the 10x it must reach)"}`,
    );
    return [
      {
        name: `overview of ${BUSY} over a day vs count(*) of its rows, median of ${RUNS}`,
        unit: "ms",
        value: o,
        floor: c,
      },
      { name: "count(*) / overview", unit: "x", value: c / o },
    ];
  } finally {
    client?.close();
    await pool.end();
    await stopAll([logstore]);
    await Promise.all([postgres.stop(), nats.stop()]);
  }
}

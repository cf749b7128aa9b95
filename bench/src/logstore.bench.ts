// Log store: attempt records published to ATTEMPTS and written to Postgres by the log store
// (consume, decode, batch, insert, ack), against the floor of the bench process writing the same
// rows itself with plain multi-row INSERTs into the same table, in one run.
import pg from "pg";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { busNames, type AttemptRecord } from "@herald/bus";
import { startNats, startPostgres } from "@herald/testkit";
import { startService, stopAll } from "@herald/e2e";
import type { Row } from "./stats.js";

const TOTAL = Number(process.env.BENCH_LOGSTORE_RECORDS ?? 20_000);
const FLOOR_BATCH = 500;
const PUBLISH_WINDOW = 2_000;
// The log store's durable on ATTEMPTS (services/logstore/src/main.ts).
const LOGSTORE_DURABLE = "logstore-attempts";
const COLUMNS = [
  "id",
  "at",
  "kind",
  "app_id",
  "hook",
  "endpoint_id",
  "event_id",
  "delivery_id",
  "attempt",
  "event_type",
  "dialect",
  "trigger",
  "operation_id",
  "url",
  "request_body",
  "status",
  "response_body",
  "latency_ms",
  "outcome",
  "error",
  "event",
] as const;

/** Records shaped like the deliverer's: a JSON body of a few hundred bytes, a short response. */
function records(appId: string, n: number): AttemptRecord[] {
  const stamp = `${process.pid}-${Date.now()}`;
  return Array.from({ length: n }, (_, i) => {
    const eventId = `ev-${stamp}-${i}`;
    return {
      id: `at-${stamp}-${i}`,
      kind: "delivery",
      appId,
      endpointId: `ep-${i % 10}`,
      eventId,
      deliveryId: `${eventId}:ep-${i % 10}`,
      attempt: 1,
      eventType: "msg.sent",
      dialect: "standard",
      trigger: "event",
      operationId: `op-${i}`,
      url: "https://hooks.example.com/herald",
      requestBody: JSON.stringify({
        type: "msg.sent",
        timestamp: new Date().toISOString(),
        data: {
          messageId: `m-${i}`,
          from: `user-${i % 500}`,
          to: `user-${(i * 7) % 500}`,
          content: "x".repeat(200),
        },
      }),
      status: 200,
      responseBody: '{"ok":true}',
      latencyMs: 10 + (i % 40),
      outcome: "delivered",
      error: "",
      at: new Date().toISOString(),
    };
  });
}

function rowValues(r: AttemptRecord): unknown[] {
  return [
    r.id,
    r.at,
    r.kind,
    r.appId,
    r.hook ?? null,
    r.endpointId ?? null,
    r.eventId ?? null,
    r.deliveryId ?? null,
    r.attempt ?? null,
    r.eventType ?? null,
    r.dialect ?? null,
    r.trigger ?? null,
    r.operationId,
    r.url,
    r.requestBody,
    r.status,
    r.responseBody,
    r.latencyMs,
    r.outcome,
    r.error,
    r.event === undefined ? null : Buffer.from(r.event, "base64"),
  ];
}

/** The floor: the rows written by this process, 500 per INSERT ... VALUES (...), (...), one after another. */
async function floorRate(pool: pg.Pool, rows: AttemptRecord[]): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < rows.length; i += FLOOR_BATCH) {
    const batch = rows.slice(i, i + FLOOR_BATCH);
    const values: unknown[] = [];
    const tuples = batch.map((r) => {
      const base = values.length;
      values.push(...rowValues(r));
      return `(${COLUMNS.map((_, c) => `$${base + c + 1}`).join(", ")})`;
    });
    await pool.query(
      `INSERT INTO herald.attempts (${COLUMNS.join(", ")}) VALUES ${tuples.join(", ")} ON CONFLICT DO NOTHING`,
      values,
    );
  }
  return rows.length / (Number(process.hrtime.bigint() - started) / 1e9);
}

/**
 * Herald: publish every record to ATTEMPTS and time until the log store has them all in Postgres.
 * It acks a record only once its batch committed, so "nothing pending, nothing unacked" on its
 * durable is "all stored" (checked by a count after), without polling Postgres during the run.
 */
async function heraldRate(
  nc: NatsConnection,
  namespace: string,
  pool: pg.Pool,
  rows: AttemptRecord[],
): Promise<number> {
  const names = busNames(namespace);
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const appId = rows[0]?.appId ?? "";
  const started = process.hrtime.bigint();
  for (let i = 0; i < rows.length; i += PUBLISH_WINDOW) {
    // As @herald/bus publishAttemptDurably does: JSON, deduplicated by the record id.
    await Promise.all(
      rows
        .slice(i, i + PUBLISH_WINDOW)
        .map((r) => js.publish(names.subjects.attempt(r.appId), JSON.stringify(r), { msgID: r.id })),
    );
  }
  for (;;) {
    const info = await jsm.consumers.info(names.streams.attempts, LOGSTORE_DURABLE);
    if (info.num_pending === 0 && info.num_ack_pending === 0) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const { rows: counted } = await pool.query<{ n: string }>(
    "SELECT count(*) AS n FROM herald.attempts WHERE app_id = $1",
    [appId],
  );
  if (Number(counted[0]?.n) !== rows.length) {
    throw new Error(`log store stored ${counted[0]?.n} of ${rows.length} records`);
  }
  return rows.length / elapsed;
}

export async function benchLogstore(): Promise<Row[]> {
  const [nats, postgres] = await Promise.all([startNats({ source: "local" }), startPostgres()]);
  const logstore = await startService("logstore", {
    NATS_URL: nats.url,
    HERALD_NAMESPACE: nats.namespace,
    DATABASE_URL: postgres.url,
    LOG_LEVEL: "warn",
  });
  const pool = new pg.Pool({ connectionString: postgres.url, max: 2 });
  const nc = await connect({ servers: nats.url });
  try {
    // Ready means migrated and today's partitions made, for the floor too.
    await logstore.waitReady();
    const warm = Math.min(2_000, TOTAL);
    await floorRate(pool, records("floorwarm", warm));
    const floor = await floorRate(pool, records("floor", TOTAL));
    await heraldRate(nc, nats.namespace, pool, records("heraldwarm", warm));
    const herald = await heraldRate(nc, nats.namespace, pool, records("herald", TOTAL));
    return [{ name: `logstore: attempt records stored (${TOTAL})`, unit: "records/s", value: herald, floor }];
  } finally {
    await nc.close();
    await pool.end();
    await stopAll([logstore]);
    await Promise.all([postgres.stop(), nats.stop()]);
  }
}

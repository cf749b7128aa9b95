// The overview (GET /v1/apps/{app}/overview) against what really happened: deliveries to a loopback
// business server through the gateway, deliverer and log store, some failing until dead; and a
// redelivered ATTEMPTS batch that must not be counted twice.
import pg from "pg";
import { credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AttemptRecorder, type AttemptRecord, type Bus } from "@herald/bus";
import { putApp, type AppConfig } from "@herald/config";
import {
  DeliveryLogServiceClient,
  GetOverviewRequest,
  type GetOverviewResponse,
  type HeraldServiceClient,
} from "@herald/proto";
import {
  startPostgres,
  startRecordingServer,
  waitFor,
  type PostgresFixture,
  type RecordingServer,
} from "@herald/testkit";
import { adminCaller, expectAdminError, type AdminAnswer } from "./admin-client.js";
import { messageEvent, startDeliveryStack, waitForConfig, type DeliveryStack } from "./delivery-fixture.js";
import { publish } from "./grpc-client.js";
import type { ServiceProcess } from "./harness.js";

const ADMIN_TOKEN = "overview-test-token";
const APP_ID = "overview";
const EVENTS = 4;
const secrets = [{ value: `whsec_${Buffer.alloc(32, 7).toString("base64")}` }];

let stack: DeliveryStack;
let postgres: PostgresFixture;
let gateway: ServiceProcess;
let server: RecordingServer;
let bus: Bus;
let client: HeraldServiceClient;
const call = adminCaller(() => gateway.adminUrl, ADMIN_TOKEN);

/** The overview once `ready` holds for it. */
async function overviewWhen(query: string, ready: (body: OverviewBody) => boolean): Promise<OverviewBody> {
  let last: AdminAnswer | undefined;
  await waitFor(
    async () => {
      last = await call("GET", `/v1/apps/${APP_ID}/overview${query}`);
      if (last.status !== 200 || !ready(last.body as OverviewBody)) throw new Error(last.text);
      return true;
    },
    { what: "the overview" },
  );
  return last?.body as OverviewBody;
}

interface Stats {
  attempts: number;
  delivered: number;
  retried: number;
  dead: number;
  successRate: number | null;
  p50Ms: number;
  p99Ms: number;
}
interface OverviewBody {
  range: string;
  bucketSeconds: number;
  from: string;
  to: string;
  total: Stats;
  endpoints: Array<Stats & { endpointId: string }>;
  series: Array<Stats & { start: string }>;
}

const sum = (series: Stats[], key: "attempts" | "delivered" | "dead") =>
  series.reduce((n, s) => n + s[key], 0);

describe("admin API: overview", () => {
  beforeAll(async () => {
    postgres = await startPostgres();
    stack = await startDeliveryStack({ env: { ADMIN_TOKEN }, logStoreDatabaseUrl: postgres.url });
    ({ gateway, bus, client } = stack);
    const deliverer = stack.deliverers[0]!;
    server = await startRecordingServer();
    server.fallback((req) => (req.path === "/ok" ? { status: 200, body: {} } : { status: 500, body: {} }));
    const revision = await putApp(bus, {
      appId: APP_ID,
      endpoints: [
        {
          id: "ok",
          url: `${server.url}/ok`,
          dialect: "standard",
          secrets,
          retry: { scheduleMs: [], jitter: 0 },
        },
        // One retry, then dead: two attempts per delivery.
        {
          id: "down",
          url: `${server.url}/down`,
          dialect: "standard",
          secrets,
          retry: { scheduleMs: [10], jitter: 0 },
        },
      ],
    } as unknown as AppConfig);
    await waitForConfig([deliverer], revision);
    await publish(
      client,
      Array.from({ length: EVENTS }, () => messageEvent(APP_ID, { occurredAt: new Date() })),
    );
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await server?.close();
    await postgres?.stop();
  });

  it("counts deliveries, retries and dead deliveries per endpoint, in totals and in the series", async () => {
    const body = await overviewWhen(
      "?range=hour",
      (b) => b.total.delivered === EVENTS && b.total.dead === EVENTS,
    );
    expect(body.range).toBe("hour");
    expect(body.bucketSeconds).toBe(60);
    expect(body.series).toHaveLength(60);
    expect(Date.parse(body.to) - Date.parse(body.from)).toBe(3_600_000);
    expect(body.total).toMatchObject({
      attempts: 3 * EVENTS,
      delivered: EVENTS,
      retried: EVENTS,
      dead: EVENTS,
    });
    expect(body.total.successRate).toBe(0.5);
    const byId = Object.fromEntries(body.endpoints.map((e) => [e.endpointId, e]));
    expect(byId["ok"]).toMatchObject({ attempts: EVENTS, delivered: EVENTS, dead: 0, successRate: 1 });
    expect(byId["down"]).toMatchObject({ attempts: 2 * EVENTS, delivered: 0, retried: EVENTS, dead: EVENTS });
    expect(byId["down"]?.successRate).toBe(0);
    expect(body.total.p99Ms).toBeGreaterThanOrEqual(body.total.p50Ms);
    expect(body.total.p50Ms).toBeGreaterThanOrEqual(1);
    // The series adds up to the totals.
    expect(sum(body.series, "attempts")).toBe(3 * EVENTS);
    expect(sum(body.series, "dead")).toBe(EVENTS);

    // What the attempt log holds says the same.
    const log = await call("GET", `/v1/apps/${APP_ID}/attempts?kind=delivery&pageSize=500`);
    const attempts = (log.body as { attempts: Array<{ endpointId: string; outcome: string }> }).attempts;
    expect(attempts.filter((a) => a.outcome === "dead")).toHaveLength(body.total.dead);
    expect(attempts).toHaveLength(body.total.attempts);

    const answer = await call("GET", `/v1/apps/${APP_ID}/overview?range=day&endpointId=down`);
    expect(answer.status, answer.text).toBe(200);
    const one = answer.body as OverviewBody;
    expect(one.endpoints).toEqual([expect.objectContaining({ endpointId: "down", dead: EVENTS })]);
    expect(one.total).toMatchObject({ attempts: 2 * EVENTS, dead: EVENTS });
    expect(one.series).toHaveLength(24);
    const week = (await call("GET", `/v1/apps/${APP_ID}/overview?range=week`)).body as OverviewBody;
    expect(week.series).toHaveLength(168);
    expect(week.total).toEqual(body.total);
  });

  it("does not count a redelivered batch of attempts twice", async () => {
    const before = await overviewWhen("?range=hour", (b) => b.total.dead === EVENTS);
    const log = await call("GET", `/v1/apps/${APP_ID}/attempts?kind=delivery&pageSize=500`);
    const stored = (log.body as { attempts: Array<Record<string, unknown>> }).attempts;
    expect(stored.length).toBe(before.total.attempts);
    // The same records once more, in one message with one new record: one batch, one statement.
    const recorder = new AttemptRecorder(bus, {
      lingerMs: 60_000,
      onError: (err) => {
        throw err;
      },
    });
    for (const a of stored) {
      recorder.record({
        id: a["id"] as string,
        at: a["at"] as string,
        kind: "delivery",
        appId: APP_ID,
        endpointId: a["endpointId"] as string,
        outcome: a["outcome"] as string,
        latencyMs: (a["latencyMs"] as number | undefined) ?? 0,
        operationId: "",
        url: "",
        requestBody: "",
        status: 0,
        responseBody: "",
        error: "",
      } satisfies AttemptRecord);
    }
    recorder.record({
      kind: "delivery",
      appId: APP_ID,
      endpointId: "ok",
      outcome: "delivered",
      latencyMs: 5,
      operationId: "",
      url: "",
      requestBody: "",
      status: 200,
      responseBody: "",
      error: "",
    });
    recorder.flush();
    const after = await overviewWhen("?range=hour", (b) => b.total.delivered === EVENTS + 1);
    expect(after.total).toMatchObject({
      attempts: before.total.attempts + 1,
      retried: before.total.retried,
      dead: before.total.dead,
    });
  });

  it("puts each latency in the log-scale bucket its migration documents", async () => {
    // Bucket 0 holds 0..1 ms, bucket i (2^((i-1)/4), 2^(i/4)] ms: its largest whole ms is floor(2^(i/4)).
    const largest = Array.from({ length: 71 }, (_, i) => Math.floor(2 ** (i / 4) + 1e-9));
    const db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    try {
      const { rows } = await db.query<{ at: number[]; above: number[] }>(
        `SELECT array_agg(herald.latency_bucket(ms) ORDER BY i) AS at,
           array_agg(herald.latency_bucket(ms + 1) ORDER BY i) AS above
         FROM unnest($1::int[]) WITH ORDINALITY AS u(ms, i)`,
        [largest],
      );
      largest.forEach((ms, i) => {
        expect(rows[0]?.at[i], `${ms} ms`).toBeLessThanOrEqual(i);
        expect(rows[0]?.above[i], `${ms + 1} ms`).toBeGreaterThan(i);
      });
    } finally {
      await db.end();
    }
  });

  it("reads p50 and p99 by nearest rank from the latency histogram", async () => {
    // 98 attempts at 40 ms and 2 at 900 ms, rolled up by the ingest's own rule, on a minute of their own.
    const at = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 7_200_000);
    const latencies = [...Array<number>(98).fill(40), 900, 900];
    const db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    try {
      await db.query(
        "SELECT herald.roll_up_attempts($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::int[])",
        [
          latencies.map(() => "pct"),
          latencies.map(() => "ep"),
          latencies.map(() => at),
          latencies.map((_, i) => (i < 99 ? "delivered" : "dead")),
          latencies,
        ],
      );
    } finally {
      await db.end();
    }
    const logStore = new DeliveryLogServiceClient(
      stack.others[0]?.grpcAddress ?? "",
      credentials.createInsecure(),
    );
    try {
      const res = await new Promise<GetOverviewResponse>((resolve, reject) =>
        logStore.getOverview(
          GetOverviewRequest.fromPartial({
            appId: "pct",
            from: at,
            to: new Date(at.getTime() + 3_600_000),
            bucketSeconds: 60,
          }),
          (err, answer) => (err ? reject(err) : resolve(answer)),
        ),
      );
      // 40 ms is in the bucket (38, 45]; 900 ms in (861, 1024]: the largest whole ms of each.
      expect(res.total).toEqual({
        attempts: 100,
        delivered: 99,
        retried: 0,
        dead: 1,
        p50Ms: 45,
        p99Ms: 1024,
      });
      expect(res.series[0]?.stats).toEqual(res.total);
      expect(res.series).toHaveLength(60);
      expect(res.endpoints).toEqual([{ endpointId: "ep", stats: res.total }]);
    } finally {
      logStore.close();
    }
  });

  it("refuses a range it does not know, naming the field", async () => {
    expectAdminError(await call("GET", `/v1/apps/${APP_ID}/overview?range=month`), 400, "range");
    expectAdminError(await call("GET", `/v1/apps/${APP_ID}/overview?endpointId=a.b`), 400, "endpointId");
    expect((await call("GET", `/v1/apps/nosuchapp/overview`)).status).toBe(404);
  });
});

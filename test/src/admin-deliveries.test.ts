/* eslint-disable @typescript-eslint/no-unsafe-member-access
   -- the API's JSON answers are read by path; the assertions check their shape. */
// GET /v1/apps/{app}/deliveries and POST …/deliveries/replay over real services: deliveries as one row
// each, filters through the admin API, and a bulk replay (counted first) that reaches the business
// server again under the same delivery ids.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HeraldServiceClient } from "@herald/proto";
import {
  startNats,
  startPostgres,
  startRecordingServer,
  waitFor,
  type NatsFixture,
  type PostgresFixture,
  type RecordingServer,
} from "@herald/testkit";
import { heraldClient, publish } from "./grpc-client.js";
import { messageEvent } from "./delivery-fixture.js";
import { adminCaller, expectAdminError as expectError } from "./admin-client.js";
import { startService, stopAll, type ServiceProcess } from "./harness.js";

const ADMIN_TOKEN = "admin-token-for-deliveries-0123456789";
const SECRET = `whsec_${Buffer.alloc(32, 5).toString("base64")}`;
const APP = "bulk";
const USER = "用户😀";

let nats: NatsFixture;
let pg: PostgresFixture;
let server: RecordingServer;
let gateway: ServiceProcess;
const services: ServiceProcess[] = [];
let client: HeraldServiceClient;
const call = adminCaller(() => gateway.adminUrl, ADMIN_TOKEN);

// No retries: the first failure is dead.
const endpoint = (id: string) => ({
  id,
  url: `${server.url}/${id}`,
  dialect: "standard",
  secrets: [{ value: SECRET }],
  retry: { scheduleMs: [], jitter: 0 },
});
const events = [0, 1, 2].map((i) =>
  messageEvent(APP, {
    payload: {
      $case: "messageSent",
      value: {
        messageId: `m${i}`,
        fromUserId: i === 0 ? USER : "u1",
        toUserId: "u2",
        content: `parcel ${i}`,
      },
    },
  }),
);
const deliveryIds = (endpointId: string) => events.map((e) => `${String(e.id)}:${endpointId}`);
const received = (deliveryId: string) =>
  server.requests.filter((r) => r.headers["herald-delivery-id"] === deliveryId).length;
const list = async (query: Record<string, string>) => {
  const res = await call("GET", `/v1/apps/${APP}/deliveries?${new URLSearchParams(query).toString()}`);
  expect(res.status, res.text).toBe(200);
  return res.body.deliveries as Array<Record<string, unknown>>;
};

beforeAll(async () => {
  [nats, pg, server] = await Promise.all([startNats(), startPostgres(), startRecordingServer()]);
  const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace, DELIVERY_ALLOW_LOOPBACK: "true" };
  const logstore = await startService("logstore", { ...env, DATABASE_URL: pg.url });
  gateway = await startService("gateway", { ...env, ADMIN_TOKEN, LOGSTORE_ADDRESS: logstore.grpcAddress });
  const deliverer = await startService("deliverer", env);
  services.push(logstore, gateway, deliverer);
  await Promise.all(services.map((s) => s.waitReady()));
  client = heraldClient(gateway.grpcAddress);
  server.fallback({ status: 500, body: "down" });
  const put = await call("PUT", `/v1/apps/${APP}`, { body: { endpoints: [endpoint("a"), endpoint("b")] } });
  expect(put.status, put.text).toBe(201);
  // The deliverer takes the app's config a moment after the API stores it.
  await waitFor(
    async () => {
      await publish(client, [messageEvent(APP)]);
      return server.requests.length > 0;
    },
    { timeoutMs: 45_000, intervalMs: 500, what: "the deliverer sending for the new app" },
  );
  await publish(client, events);
  await waitFor(async () => (await list({ outcome: "dead", search: "parcel" })).length === 6, {
    timeoutMs: 20_000,
    what: "six dead deliveries listed",
  });
}, 120_000);

afterAll(async () => {
  client?.close();
  await stopAll(services);
  await Promise.all([nats?.stop(), pg?.stop(), server?.close()]);
}, 60_000);

describe("deliveries in the admin API", () => {
  it("lists one row per delivery, filtered by user (Unicode), endpoint and body text", async () => {
    const mine = await list({ userId: USER });
    expect(mine.map((d) => d.deliveryId).sort()).toEqual([`${events[0]?.id}:a`, `${events[0]?.id}:b`]);
    expect(mine[0]).toMatchObject({ outcome: "dead", attemptCount: 1, statusCode: 500, replayable: true });
    const a = await list({ endpointId: "a", search: "parcel 1" });
    expect(a.map((d) => d.deliveryId)).toEqual([`${events[1]?.id}:a`]);
    expect(await list({ eventType: "msg.sent", outcome: "delivered", search: "parcel" })).toEqual([]);
  });

  it("refuses bad filters naming the field", async () => {
    expectError(await call("GET", `/v1/apps/${APP}/deliveries?outcome=failed`), 400, "outcome");
    expectError(await call("GET", `/v1/apps/${APP}/deliveries?search=${"x".repeat(201)}`), 400, "search");
    expectError(await call("GET", `/v1/apps/${APP}/deliveries?from=yesterday`), 400, "from");
    expectError(await call("GET", `/v1/apps/${APP}/deliveries?pageToken=nope`), 400, "pageToken");
    expectError(await call("POST", `/v1/apps/${APP}/deliveries/replay`, { body: { max: 0 } }), 400, "max");
  });

  it("shows an app key its own app's deliveries only", async () => {
    expect((await call("PUT", "/v1/apps/other", { body: { endpoints: [] } })).status).toBe(201);
    const key = (await call("POST", "/v1/apps/other/keys")).body.key as string;
    expect((await call("GET", "/v1/apps/other/deliveries", { token: key })).status).toBe(200);
    expectError(await call("GET", `/v1/apps/${APP}/deliveries`, { token: key }), 404, "appId");
    expectError(
      await call("POST", `/v1/apps/${APP}/deliveries/replay`, { token: key, body: { dryRun: true } }),
      404,
      "appId",
    );
  });

  it("counts a filtered set, then replays it under the same delivery ids", async () => {
    const filter = { endpointId: "a", outcome: "dead", search: "parcel" };
    const replay = (body: Record<string, unknown>) =>
      call("POST", `/v1/apps/${APP}/deliveries/replay`, { body: { ...filter, ...body } });
    const dry = await replay({ dryRun: true });
    expect(dry.status, dry.text).toBe(200);
    expect(dry.body).toEqual({ dryRun: true, queued: 0, matched: 3, more: false, skipped: 0 });
    expect((await replay({ dryRun: true, max: 2 })).body).toMatchObject({ matched: 2, more: true });

    server.fallback({ status: 200, body: { ok: true } });
    const sent = await replay({});
    expect(sent.status, sent.text).toBe(202);
    expect(sent.body).toEqual({ dryRun: false, queued: 3, matched: 3, more: false, skipped: 0 });
    await waitFor(() => deliveryIds("a").every((id) => received(id) === 2), {
      timeoutMs: 20_000,
      what: "each of a's deliveries received a second time",
    });
    // b's were not in the set.
    for (const id of deliveryIds("b")) expect(received(id)).toBe(1);
    await waitFor(
      async () =>
        (await list({ endpointId: "a", search: "parcel" })).every(
          (d) => d.outcome === "delivered" && d.attemptCount === 2 && d.trigger === "replay",
        ),
      { timeoutMs: 20_000, what: "a's deliveries delivered on their second attempt" },
    );
  });

  it("leaves out deliveries whose endpoint is gone", async () => {
    const put = await call("PUT", `/v1/apps/${APP}`, { body: { endpoints: [endpoint("a")] } });
    expect(put.status, put.text).toBe(200);
    const res = await call("POST", `/v1/apps/${APP}/deliveries/replay`, {
      body: { endpointId: "b", outcome: "dead", search: "parcel" },
    });
    expect(res.body).toMatchObject({ queued: 0, matched: 0, skipped: 3 });
  });
});

import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { DeliveryLogServiceClient, ListAttemptsRequest, type ListAttemptsResponse } from "@herald/proto";
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment,
   @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return
   -- the API's JSON answers are read by path; the assertions check their shape. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus, publishAttemptDurably, type Bus } from "@herald/bus";
import { pino } from "pino";
import type { DeepPartial, Event, HeraldServiceClient } from "@herald/proto";
import {
  startNats,
  startPostgres,
  startRecordingServer,
  waitFor,
  type NatsFixture,
  type PostgresFixture,
  type RecordingServer,
} from "@herald/testkit";
import { heraldClient, onlineEvent, publish } from "./grpc-client.js";
import { messageEvent } from "./delivery-fixture.js";
import { adminCaller, expectAdminError as expectError } from "./admin-client.js";
import { startService, stopAll, type ServiceProcess } from "./harness.js";

const ADMIN_TOKEN = "admin-token-for-tests-0123456789";
const SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;

let nats: NatsFixture;
let pg: PostgresFixture;
let server: RecordingServer;
let gateway: ServiceProcess;
const services: ServiceProcess[] = [];
let client: HeraldServiceClient;

const call = adminCaller(() => gateway.adminUrl, ADMIN_TOKEN);

const std = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  url: `${server.url}/${id}`,
  dialect: "standard",
  secrets: [{ value: SECRET }],
  ...extra,
});
const mq = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  url: `${server.url}/${id}`,
  dialect: "mqttchat",
  ...extra,
});

beforeAll(async () => {
  [nats, pg, server] = await Promise.all([startNats(), startPostgres(), startRecordingServer()]);
  const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace, DELIVERY_ALLOW_LOOPBACK: "true" };
  const logstore = await startService("logstore", { ...env, DATABASE_URL: pg.url });
  services.push(logstore);
  gateway = await startService("gateway", { ...env, ADMIN_TOKEN, LOGSTORE_ADDRESS: logstore.grpcAddress });
  services.push(gateway);
  const others = await Promise.all(
    (["deliverer", "presence", "chatroom"] as const).map((name) => startService(name, env)),
  );
  services.push(...others);
  await Promise.all(services.map((s) => s.waitReady()));
  client = heraldClient(gateway.grpcAddress);
}, 120_000);

afterAll(async () => {
  client?.close();
  await stopAll(services);
  await Promise.all([nats?.stop(), pg?.stop(), server?.close()]);
}, 60_000);

describe("authentication and isolation", () => {
  let keyA: string;
  let keyId: string;

  beforeAll(async () => {
    for (const appId of ["iso-a", "iso-b"]) {
      expect((await call("PUT", `/v1/apps/${appId}`, { body: { endpoints: [mq("ep1")] } })).status).toBe(201);
    }
    const created = await call("POST", "/v1/apps/iso-a/keys");
    expect(created.status).toBe(201);
    keyA = created.body.key;
    keyId = created.body.id;
    expect(keyA).toMatch(/^hak_iso-a_[0-9a-f]+$/);
  });

  it("refuses no token and a wrong token with 401", async () => {
    expectError(await call("GET", "/v1/apps", { token: null }), 401);
    expectError(await call("GET", "/v1/apps", { token: "wrong" }), 401);
    expectError(await call("GET", "/v1/apps/iso-a", { token: "hak_iso-a_00" }), 401);
    expect((await call("GET", "/v1/apps", { token: null })).body.error.code).toBe("unauthenticated");
  });

  it("lets an app key see and change its own app", async () => {
    expect((await call("GET", "/v1/apps/iso-a", { token: keyA })).status).toBe(200);
    expect((await call("GET", "/v1/apps/iso-a/endpoints", { token: keyA })).status).toBe(200);
    const list = await call("GET", "/v1/apps", { token: keyA });
    expect(list.body.apps.map((a: { appId: string }) => a.appId)).toEqual(["iso-a"]);
    const disabled = await call("POST", "/v1/apps/iso-a/endpoints/ep1/disable", { token: keyA, body: {} });
    expect(disabled.status).toBe(200);
    expect((await call("POST", "/v1/apps/iso-a/endpoints/ep1/enable", { token: keyA })).status).toBe(200);
  });

  it("answers 404 to app A's key for anything of app B, as for a missing app", async () => {
    const missing = await call("GET", "/v1/apps/no-such-app");
    for (const path of [
      "/v1/apps/iso-b",
      "/v1/apps/iso-b/endpoints",
      "/v1/apps/iso-b/endpoints/ep1",
      "/v1/apps/iso-b/attempts",
      "/v1/apps/iso-b/hooks",
      "/v1/apps/iso-b/presence/users",
    ]) {
      const res = await call("GET", path, { token: keyA });
      expectError(res, 404, "appId");
    }
    const other = await call("GET", "/v1/apps/no-such-app", { token: keyA });
    expect(other.body).toEqual(missing.body);
    expectError(await call("POST", "/v1/apps/iso-b/endpoints/ep1/disable", { token: keyA, body: {} }), 404);
    expectError(await call("DELETE", "/v1/apps/iso-b", { token: keyA }), 404);
  });

  it("keeps app create, delete and keys for the admin token (403)", async () => {
    expectError(await call("PUT", "/v1/apps/iso-a", { token: keyA, body: {} }), 403);
    expectError(await call("DELETE", "/v1/apps/iso-a", { token: keyA }), 403);
    expectError(await call("POST", "/v1/apps/iso-a/keys", { token: keyA }), 403);
    expectError(await call("DELETE", `/v1/apps/iso-a/keys/${keyId}`, { token: keyA }), 403);
    expect((await call("DELETE", `/v1/apps/iso-a/keys/${keyId}`, { token: keyA })).body.error.code).toBe(
      "forbidden",
    );
  });

  it("revokes a key", async () => {
    const extra = await call("POST", "/v1/apps/iso-b/keys");
    expect((await call("GET", "/v1/apps/iso-b", { token: extra.body.key })).status).toBe(200);
    expect((await call("DELETE", `/v1/apps/iso-b/keys/${extra.body.id}`)).status).toBe(204);
    expectError(await call("GET", "/v1/apps/iso-b", { token: extra.body.key }), 401);
    expectError(await call("DELETE", `/v1/apps/iso-b/keys/${extra.body.id}`), 404, "keyId");
    expectError(await call("POST", "/v1/apps/no-such-app/keys"), 404, "appId");
    expectError(await call("DELETE", "/v1/apps/iso-b/keys/not-hex!"), 400, "keyId");
  });
});

describe("documents", () => {
  it("serves the OpenAPI document listing the routes", async () => {
    const res = await call("GET", "/openapi.json", { token: null });
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    const paths = Object.keys(res.body.paths);
    for (const path of [
      "/v1/apps",
      "/v1/apps/{appId}",
      "/v1/apps/{appId}/keys",
      "/v1/apps/{appId}/endpoints",
      "/v1/apps/{appId}/endpoints/{endpointId}",
      "/v1/apps/{appId}/endpoints/{endpointId}/enable",
      "/v1/apps/{appId}/endpoints/{endpointId}/disable",
      "/v1/apps/{appId}/endpoints/{endpointId}/rotate-secret",
      "/v1/apps/{appId}/endpoints/{endpointId}/test",
      "/v1/apps/{appId}/endpoints/{endpointId}/replay",
      "/v1/apps/{appId}/endpoints/{endpointId}/activity",
      "/v1/apps/{appId}/hooks",
      "/v1/apps/{appId}/webhooks.yml",
      "/v1/apps/{appId}/attempts",
      "/v1/apps/{appId}/events/{eventId}",
      "/v1/apps/{appId}/deliveries/{deliveryId}/replay",
      "/v1/apps/{appId}/presence/users",
      "/v1/apps/{appId}/presence/users/{userId}",
      "/v1/apps/{appId}/rooms",
      "/v1/apps/{appId}/rooms/{roomId}",
      "/v1/apps/{appId}/rooms/{roomId}/members",
      "/v1/apps/{appId}/users/{userId}/rooms",
      "/v1/dialects",
    ]) {
      expect(paths).toContain(path);
    }
    const post = res.body.paths["/v1/apps/{appId}/endpoints"].post;
    const endpoint = post.requestBody.content["application/json"].schema.properties;
    expect(endpoint).toHaveProperty("url");
    // Every dialect's own settings block and every before-hook block, from the registry.
    for (const block of ["openim", "rongcloud", "tencent"]) expect(endpoint).toHaveProperty(block);
    const app = res.body.paths["/v1/apps/{appId}"].put.requestBody.content["application/json"].schema;
    expect(Object.keys(app.properties)).toEqual(expect.arrayContaining(["openim", "tencent", "endpoints"]));
  });

  it("serves the panel at /admin/ without a token", async () => {
    const res = await call("GET", "/admin/", { token: null });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/html/);
  });

  it("answers an unknown route with the error body", async () => {
    expectError(await call("GET", "/v1/nothing-here"), 404);
  });
});

describe("apps", () => {
  it("creates, reads (secrets redacted), lists, replaces and deletes an app", async () => {
    const created = await call("PUT", "/v1/apps/app1", { body: { endpoints: [std("s1")] } });
    expect(created.status, created.text).toBe(201);
    expect(created.body.source).toBe("api");
    const secret = created.body.endpoints[0].secrets[0].value;
    expect(secret).toBe(`whsec_…${SECRET.slice(-4)}`);
    const got = await call("GET", "/v1/apps/app1");
    expect(got.body.endpoints[0].secrets[0].value).toBe(secret);
    // The redacted form sent back stands for the stored secret.
    const replaced = await call("PUT", "/v1/apps/app1", {
      body: { endpoints: [{ ...got.body.endpoints[0], timeoutMs: 1234 }] },
    });
    expect(replaced.status, replaced.text).toBe(200);
    expect(replaced.body.endpoints[0].timeoutMs).toBe(1234);
    const list = await call("GET", "/v1/apps");
    expect(list.body.apps).toContainEqual({
      appId: "app1",
      source: "api",
      endpointCount: 1,
      hasOpenIm: false,
    });
    expect((await call("DELETE", "/v1/apps/app1")).status).toBe(204);
    expectError(await call("GET", "/v1/apps/app1"), 404, "appId");
    expectError(await call("DELETE", "/v1/apps/app1"), 404, "appId");
  });

  it("refuses bad apps naming the field", async () => {
    expectError(
      await call("PUT", "/v1/apps/bad1", { body: { endpoints: [mq("a", { url: "ftp://x" })] } }),
      400,
      "endpoints.0.url",
    );
    expectError(
      await call("PUT", "/v1/apps/bad1", { body: { endpoints: [mq("b"), mq("a", { timeoutMs: -5 })] } }),
      400,
      "endpoints.1.timeoutMs",
    );
    expectError(
      await call("PUT", "/v1/apps/bad1", { body: { endpoints: [mq("a", { url: "http://10.1.2.3/x" })] } }),
      400,
      "endpoints.0.url",
    );
    expectError(await call("PUT", "/v1/apps/bad1", { body: { appId: "other" } }), 400, "appId");
    expectError(
      await call("PUT", "/v1/apps/bad1", { body: { allowPrivateDestinations: "yes" } }),
      400,
      "allowPrivateDestinations",
    );
    expectError(await call("PUT", "/v1/apps/bad1", { body: { bogus: 1 } }), 400, "bogus");
    expectError(await call("PUT", "/v1/apps/bad.id", { body: {} }), 400, "appId");
    expectError(await call("PUT", "/v1/apps/bad1", { body: [] }), 400);
    const broken = await fetch(`${gateway.adminUrl}/v1/apps/bad1`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: "{not json",
    });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { error: { field: string } }).error.field).toBe("body");
    expectError(await call("GET", "/v1/apps/bad1"), 404, "appId");
  });

  it("refuses a private URL in any before-hook block (openim, tencent), naming the field", async () => {
    const openim = await call("PUT", "/v1/apps/private2", {
      body: { openim: { url: "http://10.0.0.1/cb" } },
    });
    expectError(openim, 400, "openim.url");
    const tencent = await call("PUT", "/v1/apps/private2", {
      body: { tencent: { url: "http://169.254.169.254/im", sdkAppId: "1400000000" } },
    });
    expectError(tencent, 400, "tencent.url");
    expect((await call("GET", "/v1/apps/private2")).status).toBe(404);
  });

  it("checks a hook provider's targets as it checks URLs, and stores and returns the provider", async () => {
    const openim = (targets: string[]) => ({ openim: { url: `${server.url}/cb`, provider: { targets } } });
    expectError(
      await call("PUT", "/v1/apps/prov1", {
        body: openim(["grpc://127.0.0.1:5000", "grpc://10.0.0.1:5000"]),
      }),
      400,
      "openim.provider.targets.1",
    );
    expectError(
      await call("PUT", "/v1/apps/prov1", { body: openim(["http://127.0.0.1:5000"]) }),
      400,
      "openim.provider.targets.0",
    );
    const tencent = {
      url: `${server.url}/im`,
      sdkAppId: "1400000000",
      provider: { targets: ["grpc://169.254.169.254:80"] },
    };
    expectError(
      await call("PUT", "/v1/apps/prov1", { body: { tencent } }),
      400,
      "tencent.provider.targets.0",
    );

    const saved = await call("PUT", "/v1/apps/prov1", { body: openim(["grpc://127.0.0.1:5000"]) });
    expect(saved.status, saved.text).toBe(201);
    const got = await call("GET", "/v1/apps/prov1");
    expect(got.body.openim.provider).toEqual({ targets: ["grpc://127.0.0.1:5000"] });
    const hooks = await call("PUT", "/v1/apps/prov1/hooks", {
      body: { url: `${server.url}/cb`, provider: { targets: ["grpc://10.0.0.2:5000"] } },
    });
    expectError(hooks, 400, "provider.targets.0");
  });

  it("allows a private URL when the app allows private destinations", async () => {
    const res = await call("PUT", "/v1/apps/private1", {
      body: { allowPrivateDestinations: true, endpoints: [mq("a", { url: "http://10.1.2.3/x" })] },
    });
    expect(res.status, res.text).toBe(201);
  });
});

describe("endpoints", () => {
  beforeAll(async () => {
    expect((await call("PUT", "/v1/apps/eps", { body: {} })).status).toBe(201);
  });

  it("creates, reads, replaces, patches and deletes an endpoint", async () => {
    const created = await call("POST", "/v1/apps/eps/endpoints", { body: std("s1") });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ id: "s1", dialect: "standard", state: { state: "active" } });
    expect(created.body.secrets[0].value).toBe(`whsec_…${SECRET.slice(-4)}`);
    const got = await call("GET", "/v1/apps/eps/endpoints/s1");
    expect(got.body.url).toBe(`${server.url}/s1`);
    const put = await call("PUT", "/v1/apps/eps/endpoints/s1", {
      body: { ...std("s1"), eventTypes: ["msg.sent"], secrets: got.body.secrets },
    });
    expect(put.status, put.text).toBe(200);
    expect(put.body.eventTypes).toEqual(["msg.sent"]);
    const patched = await call("PATCH", "/v1/apps/eps/endpoints/s1", { body: { timeoutMs: 2500 } });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body).toMatchObject({ timeoutMs: 2500, eventTypes: ["msg.sent"] });
    const list = await call("GET", "/v1/apps/eps/endpoints");
    expect(list.body.endpoints.map((e: { id: string }) => e.id)).toEqual(["s1"]);
    expect((await call("DELETE", "/v1/apps/eps/endpoints/s1")).status).toBe(204);
    expectError(await call("GET", "/v1/apps/eps/endpoints/s1"), 404, "endpointId");
  });

  it("refuses bad endpoints naming the field", async () => {
    expect((await call("POST", "/v1/apps/eps/endpoints", { body: mq("m1") })).status).toBe(201);
    expectError(await call("POST", "/v1/apps/eps/endpoints", { body: mq("m1") }), 409);
    expectError(
      await call("POST", "/v1/apps/eps/endpoints", { body: mq("m2", { dialect: "soap" }) }),
      400,
      "dialect",
    );
    expectError(
      await call("POST", "/v1/apps/eps/endpoints", { body: { url: server.url, dialect: "mqttchat" } }),
      400,
      "id",
    );
    expectError(
      await call("POST", "/v1/apps/eps/endpoints", { body: std("s2", { secrets: [] }) }),
      400,
      "secrets",
    );
    expectError(
      await call("POST", "/v1/apps/eps/endpoints", {
        body: std("s2", { secrets: [{ value: "whsec_short" }] }),
      }),
      400,
      "secrets.0.value",
    );
    expectError(
      await call("POST", "/v1/apps/eps/endpoints", { body: mq("m2", { bogus: true }) }),
      400,
      "bogus",
    );
    expectError(
      await call("POST", "/v1/apps/eps/endpoints", { body: mq("m2", { retry: { scheduleMs: [-1] } }) }),
      400,
      "retry.scheduleMs.0",
    );
    expectError(
      await call("POST", "/v1/apps/eps/endpoints", {
        body: mq("m2", { url: "http://169.254.169.254/latest" }),
      }),
      400,
      "url",
    );
    expectError(
      await call("POST", "/v1/apps/eps/endpoints", {
        body: mq("m2", { url: "http://no-such-host.invalid/" }),
      }),
      400,
      "url",
    );
    expectError(await call("PUT", "/v1/apps/eps/endpoints/m1", { body: mq("other") }), 400, "id");
    expectError(await call("PUT", "/v1/apps/eps/endpoints/nope", { body: mq("nope") }), 404, "endpointId");
    expectError(
      await call("PATCH", "/v1/apps/eps/endpoints/m1", { body: { timeoutMs: "soon" } }),
      400,
      "timeoutMs",
    );
    expectError(
      await call("PATCH", "/v1/apps/eps/endpoints/m1", { body: { concurrency: 0 } }),
      400,
      "concurrency",
    );
    expectError(
      await call("PATCH", "/v1/apps/eps/endpoints/m1", { body: { url: "http://10.0.0.1/" } }),
      400,
      "url",
    );
    expectError(await call("DELETE", "/v1/apps/eps/endpoints/nope"), 404, "endpointId");
    expectError(await call("GET", "/v1/apps/eps/endpoints/bad.id"), 400, "endpointId");
  });

  it("sets an endpoint's ordering, shows it, and says each dialect's default", async () => {
    const dialects = await call("GET", "/v1/dialects");
    expect(dialects.status, dialects.text).toBe(200);
    const listed = dialects.body.dialects as Array<{
      dialect: string;
      defaults: Record<string, unknown>;
      template: Record<string, unknown>;
    }>;
    expect(listed.map((d) => [d.dialect, d.defaults["ordering"]])).toEqual([
      ["openim", "key"],
      ["rongcloud", "key"],
      ["mqttchat", "key"],
      ["standard", "none"],
      ["tencent", "key"],
    ]);
    // Left out, it is the dialect's; set, it is kept through PATCH and PUT.
    const keyed = await call("POST", "/v1/apps/eps/endpoints", { body: mq("o1") });
    expect(keyed.status, keyed.text).toBe(201);
    expect(keyed.body.ordering).toBe("key");
    // What the list says a left-out setting becomes is what an endpoint gets.
    const mqDefaults = listed.find((d) => d.dialect === keyed.body.dialect)?.defaults;
    for (const key of ["eventTypes", "timeoutMs", "retry", "batch", "pauseOnTimeouts", "disableOn"]) {
      expect(keyed.body[key], key).toEqual(mqDefaults?.[key]);
    }
    const plain = await call("POST", "/v1/apps/eps/endpoints", { body: std("o2", { ordering: "key" }) });
    expect(plain.status, plain.text).toBe(201);
    expect(plain.body.ordering).toBe("key");
    const patched = await call("PATCH", "/v1/apps/eps/endpoints/o1", { body: { ordering: "none" } });
    expect(patched.status, patched.text).toBe(200);
    expect((await call("GET", "/v1/apps/eps/endpoints/o1")).body.ordering).toBe("none");
    const put = await call("PUT", "/v1/apps/eps/endpoints/o2", { body: std("o2") });
    expect(put.status, put.text).toBe(200);
    expect(put.body.ordering).toBe("none");
    expectError(
      await call("PATCH", "/v1/apps/eps/endpoints/o1", { body: { ordering: "sideways" } }),
      400,
      "ordering",
    );
    for (const id of ["o1", "o2"]) await call("DELETE", `/v1/apps/eps/endpoints/${id}`);
  });

  it("disables, shows why, and re-enables an endpoint", async () => {
    await call("POST", "/v1/apps/eps/endpoints", { body: mq("m3") });
    const disabled = await call("POST", "/v1/apps/eps/endpoints/m3/disable", {
      body: { reason: "maintenance" },
    });
    expect(disabled.status, disabled.text).toBe(200);
    expect(disabled.body.state).toMatchObject({
      state: "disabled",
      reason: "disabled by operator: maintenance",
    });
    const list = await call("GET", "/v1/apps/eps/endpoints");
    const m3 = list.body.endpoints.find((e: { id: string }) => e.id === "m3");
    expect(m3.state.state).toBe("disabled");
    const enabled = await call("POST", "/v1/apps/eps/endpoints/m3/enable");
    expect(enabled.body.state).toMatchObject({ state: "active", reason: "" });
    expectError(
      await call("POST", "/v1/apps/eps/endpoints/m3/disable", { body: { reason: 5 } }),
      400,
      "reason",
    );
    expectError(await call("POST", "/v1/apps/eps/endpoints/nope/enable"), 404, "endpointId");
    expectError(await call("POST", "/v1/apps/nope/endpoints/m3/disable", { body: {} }), 404, "appId");
  });

  it("rotates a standard endpoint's secret with an overlap", async () => {
    await call("POST", "/v1/apps/eps/endpoints", { body: std("s3") });
    const rotated = await call("POST", "/v1/apps/eps/endpoints/s3/rotate-secret", {
      body: { overlapMs: 60_000 },
    });
    expect(rotated.status, rotated.text).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    const got = await call("GET", "/v1/apps/eps/endpoints/s3");
    expect(got.body.secrets).toHaveLength(2);
    expect(got.body.secrets[0].value).toBe(`whsec_…${String(rotated.body.secret).slice(-4)}`);
    expect(got.body.secrets[0].expiresAt).toBeUndefined();
    expect(got.body.secrets[1].value).toBe(`whsec_…${SECRET.slice(-4)}`);
    expect(Date.parse(got.body.secrets[1].expiresAt)).toBeGreaterThan(Date.now());
    expectError(await call("POST", "/v1/apps/eps/endpoints/m1/rotate-secret", { body: {} }), 400, "dialect");
    expectError(
      await call("POST", "/v1/apps/eps/endpoints/s3/rotate-secret", { body: { overlapMs: -1 } }),
      400,
      "overlapMs",
    );
  });

  it("sends a test event to an endpoint", async () => {
    server.clear();
    server.fallback({ status: 200 });
    // An app of its own, configured once: see the report on the deliverer's stuck restarts.
    expect((await call("PUT", "/v1/apps/tev", { body: {} })).status).toBe(201);
    expect((await call("POST", "/v1/apps/tev/endpoints", { body: mq("m1") })).status).toBe(201);
    const res = await call("POST", "/v1/apps/tev/endpoints/m1/test", { body: { type: "user.online" } });
    expect(res.status, res.text).toBe(202);
    expect(res.body.deliveryId).toMatch(/^test-[0-9a-f-]+:m1$/);
    await waitFor(
      () => server.requests.some((r) => r.headers["herald-delivery-id"] === res.body.deliveryId),
      {
        timeoutMs: 15_000,
        what: "the test event at the business server",
      },
    );
    expectError(
      await call("POST", "/v1/apps/tev/endpoints/m1/test", { body: { type: "room.status" } }),
      400,
      "type",
    );
    expectError(
      await call("POST", "/v1/apps/tev/endpoints/m1/test", { body: { type: "bogus" } }),
      400,
      "type",
    );
    expectError(await call("POST", "/v1/apps/tev/endpoints/nope/test", { body: {} }), 404, "endpointId");
  });
});

describe("hook settings and webhooks.yml", () => {
  beforeAll(async () => {
    expect((await call("PUT", "/v1/apps/hooks1", { body: { endpoints: [mq("m1")] } })).status).toBe(201);
  });

  it("reads, replaces and refuses hook settings", async () => {
    expectError(await call("GET", "/v1/apps/hooks1/hooks"), 404, "openim");
    const put = await call("PUT", "/v1/apps/hooks1/hooks", {
      body: {
        url: `${server.url}/im`,
        hooks: { afterUserOnline: { enable: true }, beforeSendSingleMsg: { enable: true, timeout: 3 } },
      },
    });
    expect(put.status, put.text).toBe(200);
    expect(put.body).toMatchObject({ url: `${server.url}/im`, urlStyle: "path", commandNames: "seed" });
    expect(put.body.hooks.beforeSendSingleMsg).toMatchObject({ enable: true, timeout: 3 });
    const endpoints = await call("GET", "/v1/apps/hooks1/endpoints");
    const implied = endpoints.body.endpoints.find((e: { id: string }) => e.id === "openim");
    expect(implied).toMatchObject({ implied: true, dialect: "openim", url: `${server.url}/im` });
    expectError(await call("PATCH", "/v1/apps/hooks1/endpoints/openim", { body: { timeoutMs: 1000 } }), 409);
    expectError(
      await call("PUT", "/v1/apps/hooks1/hooks", {
        body: { url: server.url, hooks: { beforeSendSingleMsg: { timeout: 99 } } },
      }),
      400,
      "hooks.beforeSendSingleMsg.timeout",
    );
    expectError(
      await call("PUT", "/v1/apps/hooks1/hooks", { body: { url: server.url, hooks: { noSuchHook: {} } } }),
      400,
      "hooks.noSuchHook",
    );
    expectError(await call("PUT", "/v1/apps/hooks1/hooks", { body: { url: "nope" } }), 400, "url");
    expectError(
      await call("PUT", "/v1/apps/hooks1/hooks", { body: { url: server.url, urlStyle: "sideways" } }),
      400,
      "urlStyle",
    );
    expectError(
      await call("PUT", "/v1/apps/hooks1/hooks", { body: { url: "http://192.168.1.1/" } }),
      400,
      "url",
    );
  });

  it("exports and imports OpenIM's webhooks.yml, keeping the endpoints", async () => {
    const exported = await call("GET", "/v1/apps/hooks1/webhooks.yml");
    expect(exported.status).toBe(200);
    expect(exported.headers.get("content-type")).toMatch(/yaml/);
    expect(exported.text).toContain(`url: ${server.url}/im`);
    expect(exported.text).toMatch(/beforeSendSingleMsg:\n\s+enable: true\n\s+timeout: 3/);

    const yaml = [
      `url: ${server.url}/im2`,
      "afterSendSingleMsg:",
      "  enable: true",
      "  timeout: 4",
      '  deniedTypes: ["200-300", 101]',
      "beforeSendSingleMsg:",
      "  enable: false",
      "  misspelt: 1",
      "",
    ].join("\n");
    const imported = await call("PUT", "/v1/apps/hooks1/webhooks.yml", { yaml });
    expect(imported.status, imported.text).toBe(200);
    expect(imported.body.warnings).toContainEqual(
      expect.objectContaining({ path: "beforeSendSingleMsg.misspelt" }),
    );
    const hooks = await call("GET", "/v1/apps/hooks1/hooks");
    expect(hooks.body.url).toBe(`${server.url}/im2`);
    expect(hooks.body.hooks.afterSendSingleMsg.deniedTypes).toEqual([
      [200, 300],
      [101, 101],
    ]);
    expect(hooks.body.hooks.afterUserOnline).toBeUndefined();
    const endpoints = await call("GET", "/v1/apps/hooks1/endpoints");
    expect(endpoints.body.endpoints.map((e: { id: string }) => e.id)).toEqual(["m1", "openim"]);

    // Export, import again: the same settings.
    const again = await call("GET", "/v1/apps/hooks1/webhooks.yml");
    expect((await call("PUT", "/v1/apps/hooks1/webhooks.yml", { yaml: again.text })).status).toBe(200);
    expect((await call("GET", "/v1/apps/hooks1/hooks")).body).toEqual(hooks.body);

    expectError(
      await call("PUT", "/v1/apps/hooks1/webhooks.yml", { yaml: "beforeSendSingleMsg:\n  timeout: soon\n" }),
      400,
      "beforeSendSingleMsg.timeout",
    );
    expectError(await call("PUT", "/v1/apps/hooks1/webhooks.yml", { yaml: "url: [unclosed\n" }), 400, "body");
    expectError(await call("PUT", "/v1/apps/hooks1/webhooks.yml", { body: { url: "x" } }), 400, "body");
    expectError(await call("GET", "/v1/apps/eps/webhooks.yml"), 404, "openim");
  });
});

describe("presence and chatroom queries", () => {
  const roomEvent = (payload: DeepPartial<Event>["payload"]) => onlineEvent("q1", { payload });

  beforeAll(async () => {
    expect((await call("PUT", "/v1/apps/q1", { body: {} })).status).toBe(201);
    await publish(client, [
      onlineEvent("q1", {
        payload: {
          $case: "connectionOnline",
          value: { userId: "alice", connId: "c1", platformId: 5, nodeId: "core-1" },
        },
      }),
      roomEvent({ $case: "roomCreated", value: { roomId: "lobby" } }),
    ]);
    await waitFor(async () => (await call("GET", "/v1/apps/q1/rooms/lobby")).status === 200, {
      timeoutMs: 15_000,
      what: "room lobby",
    });
    await publish(client, [
      roomEvent({ $case: "roomJoined", value: { roomId: "lobby", userIds: ["alice", "bob"] } }),
    ]);
    await waitFor(async () => (await call("GET", "/v1/apps/q1/rooms/lobby")).body.memberCount === 2, {
      timeoutMs: 15_000,
      what: "members of lobby",
    });
    await waitFor(async () => (await call("GET", "/v1/apps/q1/presence/users/alice")).status === 200, {
      timeoutMs: 15_000,
      what: "alice's presence",
    });
  });

  it("lists users and reads one", async () => {
    const online = await call("GET", "/v1/apps/q1/presence/users?status=online");
    expect(online.status, online.text).toBe(200);
    expect(online.body.users.map((u: { userId: string }) => u.userId)).toEqual(["alice"]);
    expect((await call("GET", "/v1/apps/q1/presence/users?status=offline")).body.users).toEqual([]);
    // The status as the answers spell it, its short name in any case, its number: the same filter.
    for (const status of ["USER_STATUS_ONLINE", "ONLINE", "1"]) {
      const same = await call("GET", `/v1/apps/q1/presence/users?status=${status}`);
      expect({ status, users: same.body.users }).toEqual({ status, users: online.body.users });
    }
    expect(
      (await call("GET", "/v1/apps/q1/presence/users?status=USER_STATUS_UNSPECIFIED")).body.users,
    ).toEqual(online.body.users);
    const alice = await call("GET", "/v1/apps/q1/presence/users/alice");
    expect(alice.body).toMatchObject({ userId: "alice", status: "USER_STATUS_ONLINE" });
    expectError(await call("GET", "/v1/apps/q1/presence/users/nobody"), 404, "userId");
    expectError(await call("GET", "/v1/apps/q1/presence/users?status=away"), 400, "status");
    expectError(await call("GET", "/v1/apps/q1/presence/users?pageSize=0"), 400, "pageSize");
    expectError(await call("GET", "/v1/apps/q1/presence/users?pageToken=a.b"), 400, "pageToken");
  });

  it("lists rooms, members and a user's rooms", async () => {
    const rooms = await call("GET", "/v1/apps/q1/rooms");
    expect(rooms.body.rooms.map((r: { roomId: string }) => r.roomId)).toEqual(["lobby"]);
    const members = await call("GET", "/v1/apps/q1/rooms/lobby/members?pageSize=1");
    expect(members.body.members.map((m: { userId: string }) => m.userId)).toEqual(["alice"]);
    const next = await call("GET", `/v1/apps/q1/rooms/lobby/members?pageToken=${members.body.nextPageToken}`);
    expect(next.body.members.map((m: { userId: string }) => m.userId)).toEqual(["bob"]);
    expect((await call("GET", "/v1/apps/q1/users/bob/rooms")).body).toEqual({ roomIds: ["lobby"] });
    expectError(await call("GET", "/v1/apps/q1/rooms/nowhere"), 404, "roomId");
    expectError(await call("GET", "/v1/apps/q1/rooms/nowhere/members"), 404, "roomId");
    expectError(await call("GET", "/v1/apps/q1/rooms?pageSize=abc"), 400, "pageSize");
    expectError(await call("GET", "/v1/apps/q1/rooms/lobby/members?pageSize=100000"), 400, "pageSize");
    expectError(await call("GET", "/v1/apps/nope/users/bob/rooms"), 404, "appId");
  });
});

describe("logs and replay", () => {
  let deadEvent: DeepPartial<Event>;

  beforeAll(async () => {
    server.clear();
    server.fallback({ status: 500, body: "down" });
    const put = await call("PUT", "/v1/apps/logs1", {
      body: { endpoints: [mq("dead", { retry: { scheduleMs: [] } })] },
    });
    expect(put.status, put.text).toBe(201);
    // No wait for the deliverer: its router catches up with CONFIG before it routes what follows.
    deadEvent = messageEvent("logs1");
    await publish(client, [deadEvent]);
    await waitFor(
      async () => {
        const res = await call("GET", "/v1/apps/logs1/attempts?endpointId=dead&outcome=dead");
        return res.status === 200 && res.body.attempts.length === 1;
      },
      { timeoutMs: 30_000, what: "the dead attempt in the log store" },
    );
  });

  it("lists attempts, filtered, and refuses bad filters", async () => {
    const res = await call("GET", "/v1/apps/logs1/attempts?endpointId=dead");
    expect(res.status, res.text).toBe(200);
    expect(res.body.attempts[0]).toMatchObject({
      appId: "logs1",
      endpointId: "dead",
      eventId: deadEvent.id,
      deliveryId: `${deadEvent.id}:dead`,
      outcome: "dead",
      statusCode: 500,
    });
    expect(res.body).toHaveProperty("nextPageToken");
    expect((await call("GET", "/v1/apps/logs1/attempts?endpointId=other")).body.attempts).toEqual([]);
    expectError(await call("GET", "/v1/apps/logs1/attempts?from=yesterday"), 400, "from");
    expectError(await call("GET", "/v1/apps/logs1/attempts?pageSize=501"), 400, "pageSize");
    expectError(await call("GET", "/v1/apps/logs1/attempts?kind=other"), 400, "kind");
  });

  it("shows an endpoint's activity and an event with its attempts", async () => {
    const activity = await call("GET", "/v1/apps/logs1/endpoints/dead/activity?limit=5");
    expect(activity.status, activity.text).toBe(200);
    expect(activity.body.lastErrors[0]).toMatchObject({ eventId: deadEvent.id, outcome: "dead" });
    expectError(await call("GET", "/v1/apps/logs1/endpoints/dead/activity?limit=0"), 400, "limit");
    const event = await call("GET", `/v1/apps/logs1/events/${deadEvent.id}`);
    expect(event.status, event.text).toBe(200);
    expect(event.body.event).toMatchObject({ id: deadEvent.id, appId: "logs1", type: "msg.sent" });
    expect(event.body.attempts).toHaveLength(1);
    expectError(await call("GET", "/v1/apps/logs1/events/no-such-event"), 404, "eventId");
  });

  it("replays one dead delivery, which then succeeds", async () => {
    server.clear();
    server.fallback({ status: 200 });
    const deliveryId = `${deadEvent.id}:dead`;
    const res = await call("POST", `/v1/apps/logs1/deliveries/${encodeURIComponent(deliveryId)}/replay`);
    expect(res.status, res.text).toBe(202);
    expect(res.body).toEqual({ deliveryId });
    await waitFor(
      async () => {
        const attempts = await call(
          "GET",
          `/v1/apps/logs1/attempts?deliveryId=${encodeURIComponent(deliveryId)}`,
        );
        return attempts.body.attempts.some((a: { outcome: string }) => a.outcome === "delivered");
      },
      { timeoutMs: 30_000, what: "the replay delivered" },
    );
    const delivered = await call(
      "GET",
      `/v1/apps/logs1/attempts?deliveryId=${encodeURIComponent(deliveryId)}&outcome=delivered`,
    );
    expect(delivered.body.attempts[0]).toMatchObject({ trigger: "replay", statusCode: 200 });
    expect(server.requests.some((r) => r.headers["herald-delivery-id"] === deliveryId)).toBe(true);
  });

  it("shows an attempt's ordering key and how long it waited for it", async () => {
    const bus: Bus = await connectBus({
      servers: nats.url,
      name: "test-admin-api",
      namespace: nats.namespace,
      log: pino({ level: "silent" }),
    });
    const orderingKey = "user:用户😀";
    const eventId = "ordered-1";
    try {
      // As the deliverer records a callback that waited for an earlier one of the same user.
      await publishAttemptDurably(bus, {
        kind: "delivery",
        appId: "logs1",
        endpointId: "dead",
        eventId,
        deliveryId: `${eventId}:dead`,
        attempt: 1,
        eventType: "user.online",
        dialect: "mqttchat",
        trigger: "event",
        orderingKey,
        keyWaitMs: 1_234,
        operationId: "op-ordered",
        url: `${server.url}/dead`,
        requestBody: "{}",
        status: 200,
        responseBody: "ok",
        latencyMs: 3,
        outcome: "delivered",
        error: "",
      });
    } finally {
      await bus.drain();
    }
    const listed = async () =>
      (await call("GET", `/v1/apps/logs1/attempts?eventId=${eventId}`)).body.attempts as unknown[];
    await waitFor(async () => (await listed()).length === 1, {
      what: "the ordered attempt in the log store",
    });
    expect((await listed())[0]).toMatchObject({ eventId, orderingKey, keyWaitMs: 1_234 });
    const event = await call("GET", `/v1/apps/logs1/events/${eventId}`);
    expect(event.status, event.text).toBe(200);
    expect(event.body.attempts[0]).toMatchObject({ orderingKey, keyWaitMs: 1_234 });
    // The deliverer's own record: mqttchat is ordered by default, by the message's conversation; the
    // first callback of its key did not wait, and a wait of 0 is left out.
    const routed = (await call("GET", "/v1/apps/logs1/attempts?endpointId=dead&outcome=dead")).body;
    expect(routed.attempts[0]).toMatchObject({ orderingKey: expect.stringMatching(/^conv:\[/) as unknown });
    expect(routed.attempts[0]).not.toHaveProperty("keyWaitMs");
  });

  it("refuses bad replays", async () => {
    expectError(await call("POST", "/v1/apps/logs1/deliveries/no-colon/replay"), 404, "deliveryId");
    expectError(await call("POST", "/v1/apps/logs1/deliveries/unknown-event:dead/replay"), 404, "deliveryId");
    expectError(
      await call("POST", `/v1/apps/logs1/deliveries/${deadEvent.id}:gone/replay`),
      404,
      "endpointId",
    );
    expectError(
      await call("POST", "/v1/apps/logs1/endpoints/dead/replay", { body: { since: "last week" } }),
      400,
      "since",
    );
    expectError(await call("POST", "/v1/apps/logs1/endpoints/dead/replay", { body: {} }), 400, "since");
  });

  it("replays every dead delivery of an endpoint since a time", async () => {
    const res = await call("POST", "/v1/apps/logs1/endpoints/dead/replay", {
      body: { since: new Date(Date.now() - 3_600_000).toISOString() },
    });
    expect(res.status, res.text).toBe(202);
    // The one dead delivery was delivered by the replay above, so nothing is left to send.
    expect(res.body).toEqual({ replayed: 0 });
  });
});

describe("gateway without a log store or an admin token", () => {
  it("answers 503 for log routes without LOGSTORE_ADDRESS, and 401 everywhere without ADMIN_TOKEN", async () => {
    const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace };
    const [noLogs, noToken] = await Promise.all([
      startService("gateway", { ...env, ADMIN_TOKEN }),
      startService("gateway", env),
    ]);
    try {
      await Promise.all([noLogs.waitReady(), noToken.waitReady()]);
      await call("PUT", "/v1/apps/nolog", { body: {}, base: noLogs.adminUrl });
      const res = await call("GET", "/v1/apps/nolog/attempts", { base: noLogs.adminUrl });
      expectError(res, 503);
      expect(res.body.error.code).toBe("unavailable");
      expect(res.body.error.message).toMatch(/LOGSTORE_ADDRESS/);
      const off = await call("GET", "/v1/apps", { base: noToken.adminUrl });
      expectError(off, 401);
      expect(off.body.error.message).toBe("admin API disabled: set ADMIN_TOKEN");
    } finally {
      await stopAll([noLogs, noToken]);
    }
  }, 60_000);
});

describe("DeliveryLogService on the gateway's gRPC port", () => {
  it("answers from the log store, its errors passed through with the field", async () => {
    const logs = new DeliveryLogServiceClient(gateway.grpcAddress, credentials.createInsecure());
    try {
      const list = (req: Partial<ListAttemptsRequest>) =>
        new Promise<{ err: ServiceError | null; res: ListAttemptsResponse | undefined }>((resolve) =>
          logs.listAttempts(ListAttemptsRequest.fromPartial(req), (err, res) => resolve({ err, res })),
        );
      const ok = await list({ appId: "no-such-app-yet" });
      expect(ok.err).toBeNull();
      expect(ok.res?.attempts).toEqual([]);
      const bad = await list({ appId: "" });
      expect(bad.err?.code).toBe(status.INVALID_ARGUMENT);
      expect(bad.err?.metadata.get("herald-field")).toEqual(["app_id"]);
    } finally {
      logs.close();
    }
  });
});

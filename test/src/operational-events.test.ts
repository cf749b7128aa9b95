import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyStandardWebhook } from "@herald/receiver";
import {
  freePort,
  startRecordingServer,
  waitFor,
  type RecordedRequest,
  type RecordingServer,
} from "@herald/testkit";
import { writeEndpointState } from "@herald/config";
import { adminCaller, expectAdminError } from "./admin-client.js";
import { publish } from "./grpc-client.js";
import {
  attemptRecords,
  configureApp,
  messageEvent,
  startDeliveryStack,
  type DeliveryStack,
} from "./delivery-fixture.js";

// Herald's operational events: a change of an endpoint's state (by an operator or by Herald itself)
// reaches the app's operational endpoint as a signed Standard Webhooks callback, the log and /metrics.

const ADMIN_TOKEN = "operational-events-admin-token-0123456789";
const OPS_SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
const SHOP_SECRET = `whsec_${Buffer.alloc(32, 8).toString("base64")}`;
const NO_JITTER = { jitter: 0 };

let stack: DeliveryStack;
let server: RecordingServer;
const admin = adminCaller(() => stack.gateway.adminUrl, ADMIN_TOKEN);

beforeAll(async () => {
  stack = await startDeliveryStack({ env: { ADMIN_TOKEN } });
  server = await startRecordingServer();
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await server?.close();
}, 60_000);

interface OperationalBody {
  type: string;
  timestamp: string;
  data: { endpointId: string; state: string; previousState: string; reason: string; revision: number };
}

/** The operational callbacks `appId`'s operational endpoint received, each checked against its secret. */
function operationalCalls(appId: string): Array<{ req: RecordedRequest; body: OperationalBody }> {
  return server.requests
    .filter((r) => r.path === `/ops-${appId}`)
    .map((req) => {
      verifyStandardWebhook({ headers: req.headers, body: req.text, secrets: [OPS_SECRET] });
      return { req, body: req.json<OperationalBody>() };
    });
}

async function waitForOperational(appId: string, type: string, endpointId: string): Promise<OperationalBody> {
  let found: OperationalBody | undefined;
  await waitFor(
    () => {
      found = operationalCalls(appId).find(
        (c) => c.body.type === type && c.body.data.endpointId === endpointId,
      )?.body;
      return found !== undefined;
    },
    { timeoutMs: 30_000, what: `${type} about ${appId}/${endpointId} at the operational endpoint` },
  );
  return found!;
}

/** The deliverers' summed operational event counter for one app, endpoint and kind. */
async function operationalCount(appId: string, endpointId: string, kind: string): Promise<number> {
  let sum = 0;
  for (const d of stack.deliverers) {
    if (d.child.exitCode !== null || d.child.signalCode !== null) continue;
    const text = await fetch(`${d.httpUrl}/metrics`).then((r) => r.text());
    const line = text
      .split("\n")
      .find(
        (l) =>
          l.startsWith("herald_deliverer_operational_events_total{") &&
          l.includes(`app="${appId}"`) &&
          l.includes(`endpoint="${endpointId}"`) &&
          l.includes(`kind="${kind}"`),
      );
    sum += line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/** An operational endpoint at /ops-<appId> on the recording server. */
function opsEndpoint(appId: string) {
  return {
    id: "ops",
    url: `${server.url}/ops-${appId}`,
    dialect: "standard",
    secrets: [{ value: OPS_SECRET }],
    operational: true,
  };
}

describe("operational events", () => {
  it("tells the operational endpoint, signed, when an operator disables and re-enables an endpoint", async () => {
    server.fallback({ status: 200 });
    const appId = "opsadmin";
    await configureApp(stack, {
      appId,
      endpoints: [
        {
          id: "shop",
          url: `${server.url}/shop-${appId}`,
          dialect: "standard",
          secrets: [{ value: SHOP_SECRET }],
        },
        opsEndpoint(appId),
      ],
    });
    const disabled = await admin("POST", `/v1/apps/${appId}/endpoints/shop/disable`, {
      body: { reason: "maintenance" },
    });
    expect(disabled.status, disabled.text).toBe(200);
    const event = await waitForOperational(appId, "endpoint.disabled", "shop");
    expect(event.data).toMatchObject({
      endpointId: "shop",
      state: "disabled",
      previousState: "active",
      reason: "disabled by operator: maintenance",
    });

    const enabled = await admin("POST", `/v1/apps/${appId}/endpoints/shop/enable`);
    expect(enabled.status, enabled.text).toBe(200);
    const back = await waitForOperational(appId, "endpoint.enabled", "shop");
    expect(back.data).toMatchObject({ state: "active", previousState: "disabled", reason: "" });
    expect(back.data.revision).toBeGreaterThan(event.data.revision);

    // Delivered through the normal path: an attempt record, as any delivery (so it can be replayed).
    await waitFor(
      async () =>
        (await attemptRecords(stack)).some(
          (r) =>
            r.appId === appId &&
            r.endpointId === "ops" &&
            r.eventType === "endpoint.disabled" &&
            r.outcome === "delivered",
        ),
      { what: "the attempt record of endpoint.disabled" },
    );
    // Each change once, and only to the operational endpoint.
    expect(operationalCalls(appId).map((c) => c.body.type)).toEqual([
      "endpoint.disabled",
      "endpoint.enabled",
    ]);
    expect(server.requests.filter((r) => r.path === `/shop-${appId}`)).toHaveLength(0);
    await waitFor(async () => (await operationalCount(appId, "shop", "disabled")) === 1, {
      what: "the disabled counter on /metrics",
    });
    expect(await operationalCount(appId, "shop", "enabled")).toBe(1);
    const metrics = await fetch(`${stack.deliverers[0]!.httpUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(
      new RegExp(
        `^herald_deliverer_endpoint_state\\{app="${appId}",endpoint="shop",state="active"[^}]*\\} 1$`,
        "m",
      ),
    );
    expect(
      stack.deliverers[0]!.lines.some(
        (l) => l.includes('"kind":"disabled"') && l.includes("operational event"),
      ),
    ).toBe(true);

    // An operator's pause, with its reason and the time sending resumes.
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const paused = await admin("POST", `/v1/apps/${appId}/endpoints/shop/pause`, {
      body: { until, reason: "deploying" },
    });
    expect(paused.status, paused.text).toBe(200);
    const pause = await waitForOperational(appId, "endpoint.paused", "shop");
    expect(pause.data).toMatchObject({
      state: "paused",
      previousState: "active",
      reason: "paused by operator: deploying",
    });
    expectAdminError(
      await admin("POST", `/v1/apps/${appId}/endpoints/shop/pause`, {
        body: { until: "2001-01-01T00:00:00Z" },
      }),
      400,
      "until",
    );
    await admin("POST", `/v1/apps/${appId}/endpoints/shop/enable`);
    await waitFor(async () => (await operationalCount(appId, "shop", "enabled")) === 2, {
      what: "enabled again after the pause",
    });

    // Deleting a disabled endpoint deletes its state too: no "enabled" for an endpoint that is gone.
    await admin("POST", `/v1/apps/${appId}/endpoints/shop/disable`);
    await waitFor(async () => (await operationalCount(appId, "shop", "disabled")) === 2, {
      what: "the second disable counted",
    });
    const deleted = await admin("DELETE", `/v1/apps/${appId}/endpoints/shop`);
    expect(deleted.status, deleted.text).toBe(204);
    // Changes are derived in CONFIG order: once a later one is counted, the delete was judged.
    await admin("POST", `/v1/apps/${appId}/endpoints/ops/disable`);
    await waitFor(async () => (await operationalCount(appId, "ops", "disabled")) === 1, {
      what: "a later change counted",
    });
    expect(await operationalCount(appId, "shop", "enabled")).toBe(2);
  });

  it("reports an endpoint Herald disables after a 401 (mqttchat), with the reason", async () => {
    const appId = "opsauto";
    server.fallback((req) => ({ status: req.path === `/mq-${appId}` ? 401 : 200 }));
    await configureApp(stack, {
      appId,
      endpoints: [{ id: "mq", url: `${server.url}/mq-${appId}`, dialect: "mqttchat" }, opsEndpoint(appId)],
    });
    await publish(stack.client, [messageEvent(appId)]);
    const event = await waitForOperational(appId, "endpoint.disabled", "mq");
    expect(event.data).toMatchObject({
      state: "disabled",
      previousState: "active",
      reason: "answered HTTP 401",
    });
  });

  it("reports an endpoint failing after failed attempts in a row, and recovered at its next delivery", async () => {
    const appId = "opsfail";
    let failing = true;
    server.fallback((req) => ({ status: req.path === `/shop-${appId}` && failing ? 500 : 200 }));
    await configureApp(stack, {
      appId,
      endpoints: [
        {
          id: "shop",
          url: `${server.url}/shop-${appId}`,
          dialect: "standard",
          secrets: [{ value: SHOP_SECRET }],
          eventTypes: ["msg.sent"],
          retry: { scheduleMs: [200, 200, 200, 200, 200, 200, 200, 200, 200, 200], ...NO_JITTER },
          failingAfterAttempts: 2,
        },
        opsEndpoint(appId),
      ],
    });
    await publish(stack.client, [messageEvent(appId)]);
    const event = await waitForOperational(appId, "endpoint.failing", "shop");
    expect(event.data.state).toBe("active");
    expect(event.data.reason).toBe("2 attempts in a row failed; the last: HTTP 500");
    failing = false;
    const recovered = await waitForOperational(appId, "endpoint.recovered", "shop");
    expect(recovered.data.revision).toBeGreaterThan(event.data.revision);
    expect(operationalCalls(appId).map((c) => c.body.type)).toEqual([
      "endpoint.failing",
      "endpoint.recovered",
    ]);
    await waitFor(async () => (await operationalCount(appId, "shop", "recovered")) === 1, {
      what: "the recovered counter on /metrics",
    });
  });

  it("reports a pause after mass timeouts, and enabled when the probe after it is answered", async () => {
    const appId = "opspause";
    let hanging = true;
    server.fallback((req) => (req.path === `/slow-${appId}` && hanging ? { hang: true } : { status: 200 }));
    await configureApp(stack, {
      appId,
      endpoints: [
        {
          id: "slow",
          url: `${server.url}/slow-${appId}`,
          dialect: "standard",
          secrets: [{ value: SHOP_SECRET }],
          eventTypes: ["msg.sent"],
          timeoutMs: 300,
          retry: { scheduleMs: [100, 100, 100, 100, 100, 100, 100, 100], ...NO_JITTER },
          pauseOnTimeouts: { count: 2, windowMs: 10_000, pauseMs: 1_000 },
          failingAfterAttempts: 0,
        },
        opsEndpoint(appId),
      ],
    });
    await publish(stack.client, [messageEvent(appId), messageEvent(appId)]);
    const paused = await waitForOperational(appId, "endpoint.paused", "slow");
    expect(paused.data).toMatchObject({ state: "paused", previousState: "active" });
    expect(paused.data.reason).toMatch(/^2 timeouts within 10000 ms: paused for 1000 ms$/);
    hanging = false;
    const enabled = await waitForOperational(appId, "endpoint.enabled", "slow");
    expect(enabled.data).toMatchObject({ state: "active", previousState: "paused" });
    expect(operationalCalls(appId).every((c) => c.body.type !== "endpoint.failing")).toBe(true);
  });

  it("never reports an operational endpoint to itself: its own changes are logged and counted only", async () => {
    const appId = "opsself";
    server.fallback({ status: 200 });
    await configureApp(stack, { appId, endpoints: [opsEndpoint(appId)] });
    const res = await admin("POST", `/v1/apps/${appId}/endpoints/ops/disable`);
    expect(res.status, res.text).toBe(200);
    await waitFor(async () => (await operationalCount(appId, "ops", "disabled")) === 1, {
      what: "the operational endpoint's own change counted",
    });
    expect(operationalCalls(appId)).toHaveLength(0);
  });

  // Last: it kills the deliverer. A change written while no deliverer runs (or its writer died right
  // after writing it) is in CONFIG, and the next owner of the operational checkpoint reports it.
  it("reports a change written while no deliverer was running, once one starts", async () => {
    const appId = "opskill";
    server.fallback({ status: 200 });
    await configureApp(stack, {
      appId,
      endpoints: [
        {
          id: "shop",
          url: `${server.url}/shop-${appId}`,
          dialect: "standard",
          secrets: [{ value: SHOP_SECRET }],
        },
        opsEndpoint(appId),
      ],
    });
    await Promise.all(stack.deliverers.map((d) => d.stop("SIGKILL")));
    await writeEndpointState(stack.bus, appId, "shop", {
      state: "disabled",
      reason: "disabled by a script",
      since: new Date().toISOString(),
    });
    await stack.startDeliverer();
    const event = await waitForOperational(appId, "endpoint.disabled", "shop");
    expect(event.data.reason).toBe("disabled by a script");
    expect(operationalCalls(appId)).toHaveLength(1);
  });

  it("refuses an operational endpoint whose dialect cannot say operational events, naming the field", async () => {
    const res = await admin("PUT", "/v1/apps/opsbad", {
      body: {
        endpoints: [
          { id: "mq", url: `http://127.0.0.1:${await freePort()}/x`, dialect: "mqttchat", operational: true },
        ],
      },
    });
    expectAdminError(res, 400, "endpoints.0.operational");
    expect(res.text).toContain("cannot say operational events");
  });
});

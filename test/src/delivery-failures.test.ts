import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishDeliveryJob } from "@herald/bus";
import { readEndpointState } from "@herald/config";
import { freePort, startRecordingServer, waitFor, type RecordingServer } from "@herald/testkit";
import { publish } from "./grpc-client.js";
import {
  attemptRecords,
  configureApp,
  messageEvent,
  setEndpointState,
  startDeliveryStack,
  waitForAttempts,
  type DeliveryStack,
} from "./delivery-fixture.js";

const SECRET = `whsec_${Buffer.alloc(32, 3).toString("base64")}`;
const NO_JITTER = { jitter: 0 };

let stack: DeliveryStack;
let server: RecordingServer;

beforeAll(async () => {
  stack = await startDeliveryStack({ also: ["chatroom"] });
  server = await startRecordingServer();
});

afterAll(async () => {
  await stack?.stop();
  await server?.close();
});

/** Requests that reached `path` on the shared server. */
const at = (path: string) => server.requests.filter((r) => r.path === path);

const recordsOf = (appId: string, count: number) => waitForAttempts(stack, appId, count);

async function stateOf(appId: string, endpointId: string) {
  return (await readEndpointState(stack.bus, appId, endpointId))?.state;
}

async function waitForState(appId: string, endpointId: string, state: string) {
  await waitFor(async () => (await stateOf(appId, endpointId))?.state === state, {
    timeoutMs: 20_000,
    what: `${appId}/${endpointId} to be ${state}`,
  });
  return (await stateOf(appId, endpointId))!;
}

describe("retries", () => {
  it("retries on the schedule, then records the delivery dead with its last error", async () => {
    server.fallback((req) => (req.path === "/retry" ? { status: 500, body: "down" } : { status: 200 }));
    await configureApp(stack, {
      appId: "retry",
      endpoints: [
        {
          id: "std",
          url: `${server.url}/retry`,
          dialect: "standard",
          secrets: [{ value: SECRET }],
          retry: { scheduleMs: [300, 600], ...NO_JITTER },
        },
      ],
    });
    const event = messageEvent("retry");
    await publish(stack.client, [event]);
    const records = await recordsOf("retry", 3);
    expect(records.map((r) => [r.attempt, r.outcome, r.status])).toEqual([
      [1, "retry", 500],
      [2, "retry", 500],
      [3, "dead", 500],
    ]);
    expect(records[2]?.error).toBe("HTTP 500 (out of attempts: 3)");
    expect(records[2]?.responseBody).toBe("down");
    expect(new Set(records.map((r) => r.deliveryId))).toEqual(new Set([`${event.id}:std`]));
    // Exactly three requests, each no sooner than its schedule says.
    await new Promise((r) => setTimeout(r, 1000));
    const requests = at("/retry");
    expect(requests).toHaveLength(3);
    const [first, second, third] = requests.map((r) => r.receivedAt);
    expect(second! - first!).toBeGreaterThanOrEqual(300);
    expect(third! - second!).toBeGreaterThanOrEqual(600);
  });

  it("replays a dead delivery from its record alone, under the same delivery id", async () => {
    const dead = (await attemptRecords(stack)).find((r) => r.appId === "retry" && r.outcome === "dead");
    expect(dead?.event).toBeDefined();
    server.fallback({ status: 200 });
    await publishDeliveryJob(stack.bus, {
      appId: dead!.appId,
      endpointId: dead!.endpointId!,
      eventId: dead!.eventId!,
      eventType: dead!.eventType!,
      deliveryId: dead!.deliveryId!,
      trigger: "replay",
      event: Buffer.from(dead!.event!, "base64"),
    });
    const records = await recordsOf("retry", 4);
    expect(records[3]).toMatchObject({
      outcome: "delivered",
      trigger: "replay",
      attempt: 1,
      deliveryId: dead!.deliveryId,
    });
    const replayed = at("/retry")[3];
    expect(replayed?.headers["webhook-id"]).toBe(dead!.deliveryId);
  });

  it("waits as long as Retry-After asks when that is longer than the schedule", async () => {
    server.fallback((req) =>
      req.path === "/retry-after" && at("/retry-after").length === 1
        ? { status: 503, headers: { "retry-after": "2" } }
        : { status: 200 },
    );
    await configureApp(stack, {
      appId: "retryafter",
      endpoints: [
        {
          id: "std",
          url: `${server.url}/retry-after`,
          dialect: "standard",
          secrets: [{ value: SECRET }],
          retry: { scheduleMs: [100], ...NO_JITTER },
        },
      ],
    });
    await publish(stack.client, [messageEvent("retryafter")]);
    const records = await recordsOf("retryafter", 2);
    expect(records.map((r) => [r.attempt, r.outcome, r.status])).toEqual([
      [1, "retry", 503],
      [2, "delivered", 200],
    ]);
    const [first, second] = at("/retry-after").map((r) => r.receivedAt);
    expect(second! - first!).toBeGreaterThanOrEqual(2000);
  });
});

let roomCounter = 0;
/** A room.created event: the chatroom service answers it with a room.status, which rongcloud sends. */
function roomCreated(appId: string) {
  roomCounter += 1;
  return {
    id: `room-${process.pid}-${Date.now()}-${roomCounter}`,
    appId,
    operationId: `op-room-${roomCounter}`,
    payload: { $case: "roomCreated" as const, value: { roomId: `r${roomCounter}` } },
  };
}

describe("pause on mass timeouts", () => {
  it("pauses a rongcloud endpoint, sends nothing while paused, then probes and resumes", async () => {
    let hanging = true;
    server.fallback((req) => (req.path === "/slow" && hanging ? { hang: true } : { status: 200 }));
    await configureApp(stack, {
      appId: "pause",
      endpoints: [
        {
          id: "rc",
          url: `${server.url}/slow`,
          dialect: "rongcloud",
          rongcloud: { appKey: "k", appSecret: "s" },
          eventTypes: ["room.status"],
          timeoutMs: 300,
          concurrency: 4,
          batch: { maxRecords: 1, maxLingerMs: 0 },
          retry: { scheduleMs: [100, 100], ...NO_JITTER },
          pauseOnTimeouts: { count: 3, windowMs: 10_000, pauseMs: 4000 },
        },
      ],
    });
    await publish(
      stack.client,
      [1, 2, 3, 4, 5, 6].map(() => roomCreated("pause")),
    );
    const paused = await waitForState("pause", "rc", "paused");
    expect(paused.reason).toBe("3 timeouts within 10000 ms: paused for 4000 ms");
    const until = Date.parse(paused.until!);
    hanging = false;
    // Whatever was in flight when the pause began may still land; nothing new starts until `until`.
    const startedBefore = at("/slow").length;
    await waitFor(
      async () => (await attemptRecords(stack)).some((r) => r.appId === "pause" && r.outcome === "delivered"),
      {
        timeoutMs: 20_000,
        what: "a delivery after the pause",
      },
    );
    const duringPause = at("/slow").filter(
      (r) => r.receivedAt > Date.parse(paused.since) + 400 && r.receivedAt < until - 50,
    );
    expect(duringPause).toHaveLength(0);
    expect(at("/slow").length).toBeGreaterThan(startedBefore);
    // The probe succeeded: the endpoint is active again and every room's status arrives.
    await waitForState("pause", "rc", "active");
    await waitFor(
      async () => {
        const records = (await attemptRecords(stack)).filter((r) => r.appId === "pause");
        const done = new Set(records.filter((r) => r.outcome !== "retry").map((r) => r.deliveryId));
        return done.size === 6;
      },
      { timeoutMs: 20_000, what: "all six deliveries settled" },
    );
  });

  it("defaults to a one-minute pause, as RongCloud does", async () => {
    const { validateEndpoint } = await import("@herald/config");
    const endpoint = validateEndpoint({
      id: "rc",
      url: "https://example.com/cb",
      dialect: "rongcloud",
      rongcloud: { appKey: "k", appSecret: "s" },
    });
    expect(endpoint.pauseOnTimeouts.pauseMs).toBe(60_000);
    expect(endpoint.timeoutMs).toBe(5000);
    expect(endpoint.retry.scheduleMs).toHaveLength(2);
  });
});

describe("auto-disable", () => {
  it.each([
    ["unreachable", "closed-port", /^unreachable: /],
    ["401", "/status-401", /^answered HTTP 401$/],
    ["403", "/status-403", /^answered HTTP 403$/],
  ])(
    "disables an mqttchat URL at once when %s, keeps the reason, and re-enables",
    async (_, target, reason) => {
      const appId = `mq${target.replace(/[^a-z0-9]/g, "")}`;
      const url =
        target === "closed-port" ? `http://127.0.0.1:${await freePort()}/cb` : `${server.url}${target}`;
      server.fallback((req) => {
        const match = /^\/status-(\d+)$/.exec(req.path);
        return { status: match === null ? 200 : Number(match[1]) };
      });
      await configureApp(stack, { appId, endpoints: [{ id: "mq", url, dialect: "mqttchat" }] });
      const first = messageEvent(appId);
      await publish(stack.client, [first]);
      const disabled = await waitForState(appId, "mq", "disabled");
      expect(disabled.reason).toMatch(reason);
      // While disabled, a job is dead at once, with the reason, and nothing is sent.
      const sentBefore = server.requests.length;
      const second = messageEvent(appId);
      await publish(stack.client, [second]);
      const records = await recordsOf(appId, 2);
      expect(records.map((r) => [r.eventId, r.outcome])).toEqual([
        [first.id, "dead"],
        [second.id, "dead"],
      ]);
      expect(records[1]?.error).toBe(`endpoint disabled: ${disabled.reason}`);
      expect(server.requests.length).toBe(sentBefore);
      // Re-enabled with a working URL, it delivers again.
      await configureApp(stack, {
        appId,
        endpoints: [{ id: "mq", url: `${server.url}/ok-${appId}`, dialect: "mqttchat" }],
      });
      await setEndpointState(stack, appId, "mq", {
        state: "active",
        reason: "",
        since: new Date().toISOString(),
      });
      await waitFor(async () => (await stateOf(appId, "mq"))?.state === "active", { what: "re-enabled" });
      await publish(stack.client, [messageEvent(appId)]);
      const after = await recordsOf(appId, 3);
      expect(after[2]?.outcome).toBe("delivered");
      expect(at(`/ok-${appId}`)).toHaveLength(1);
    },
  );

  it("disables a standard endpoint on 410 Gone", async () => {
    server.fallback((req) => ({ status: req.path === "/gone" ? 410 : 200 }));
    await configureApp(stack, {
      appId: "gone",
      endpoints: [
        { id: "std", url: `${server.url}/gone`, dialect: "standard", secrets: [{ value: SECRET }] },
      ],
    });
    await publish(stack.client, [messageEvent("gone")]);
    const state = await waitForState("gone", "std", "disabled");
    expect(state.reason).toBe("answered HTTP 410 Gone");
    const [record] = await recordsOf("gone", 1);
    expect(record).toMatchObject({ attempt: 1, outcome: "dead", status: 410 });
  });

  it("does not disable a standard endpoint on 401 or 500: those are retried", async () => {
    server.fallback((req) => ({ status: req.path === "/unauthorised" ? 401 : 200 }));
    await configureApp(stack, {
      appId: "unauth",
      endpoints: [
        {
          id: "std",
          url: `${server.url}/unauthorised`,
          dialect: "standard",
          secrets: [{ value: SECRET }],
          retry: { scheduleMs: [100], ...NO_JITTER },
        },
      ],
    });
    await publish(stack.client, [messageEvent("unauth")]);
    const records = await recordsOf("unauth", 2);
    expect(records.map((r) => r.outcome)).toEqual(["retry", "dead"]);
    expect((await stateOf("unauth", "std"))?.state ?? "active").toBe("active");
  });

  it("disables a standard endpoint that keeps failing past disableAfterFailingMs with no success", async () => {
    server.fallback((req) => ({ status: req.path === "/failing" ? 500 : 200 }));
    await configureApp(stack, {
      appId: "failing",
      endpoints: [
        {
          id: "std",
          url: `${server.url}/failing`,
          dialect: "standard",
          secrets: [{ value: SECRET }],
          retry: { scheduleMs: [], ...NO_JITTER },
          disableAfterFailingMs: 1000,
        },
      ],
    });
    await publish(stack.client, [messageEvent("failing")]);
    await recordsOf("failing", 1);
    await waitFor(async () => (await stateOf("failing", "std"))?.failingSince !== undefined, {
      what: "the failure clock to start",
    });
    expect((await stateOf("failing", "std"))?.state).toBe("active");
    await new Promise((r) => setTimeout(r, 1100));
    await publish(stack.client, [messageEvent("failing")]);
    const state = await waitForState("failing", "std", "disabled");
    expect(state.reason).toMatch(/^failing since .* with no success$/);
  });
});

/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment,
   @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- the admin API's JSON answers are read by path; the assertions check their shape. */
import { beforeAll, describe, expect, it } from "vitest";
import { JOB_HEADERS } from "@herald/bus";
import { OfflineReason, type DeepPartial, type Event } from "@herald/proto";
import { partitionsBehind } from "@herald/projection";
import {
  heraldDeliveryIds,
  parseOpenIm,
  parseRongCloudChatroomBatch,
  verifyRongCloud,
} from "@herald/receiver";
import { waitFor, type RecordingServer } from "@herald/testkit";
import { publish } from "./grpc-client.js";
import {
  attemptRecords,
  configureApp,
  loggedDeliveryStack,
  messageEvent,
  waitForAttempts,
  type DeliveryStack,
} from "./delivery-fixture.js";

// The seeds' rules that are dialect defaults (issue 15, item 2), with real processes: an MQTT-chat
// endpoint is disabled on a 4xx but 408/429 and after 3 timeouts in a row (seed 000), the reason where
// an operator looks; a RongCloud endpoint without eventTypes is a chatroom status URL; OpenIM's
// online/offline callbacks are per connection login/logout (seed 002), explicit endpoint or webhooks.yml.

const ADMIN_TOKEN = "seed-rules-admin-token-0123456789";
const WAIT = { timeoutMs: 20_000 };
const NO_JITTER = { jitter: 0 };
// Out of the way of the rule under test: 3 timeouts must disable, not pause.
const NEVER_PAUSE = { count: 1_000, windowMs: 1_000, pauseMs: 1 };

const fixture = loggedDeliveryStack({ adminToken: ADMIN_TOKEN, also: ["presence", "chatroom"] });
const { admin, businessServer } = fixture;
let stack: DeliveryStack;

beforeAll(() => {
  stack = fixture.stack;
});

/** The endpoint as the admin API shows it, with its state. */
async function endpointView(appId: string, endpointId: string) {
  const res = await admin("GET", `/v1/apps/${appId}/endpoints`);
  expect(res.status, res.text).toBe(200);
  return res.body.endpoints.find((e: { id: string }) => e.id === endpointId);
}

async function waitForDisabled(appId: string, endpointId: string) {
  await waitFor(async () => (await endpointView(appId, endpointId))?.state?.state === "disabled", {
    ...WAIT,
    what: `${appId}/${endpointId} disabled in the admin API`,
  });
  return endpointView(appId, endpointId);
}

/** The endpoint's dead attempts in the log store, through the admin API, once there are `count`. */
async function deadInLogs(appId: string, endpointId: string, count = 1) {
  let attempts: Array<Record<string, unknown>> = [];
  await waitFor(
    async () => {
      const res = await admin("GET", `/v1/apps/${appId}/attempts?endpointId=${endpointId}&outcome=dead`);
      attempts = res.status === 200 ? res.body.attempts : [];
      return attempts.length >= count;
    },
    { timeoutMs: 30_000, what: `${count} dead attempts of ${appId}/${endpointId} in the log store` },
  );
  return attempts;
}

/** Outcomes of the endpoint's attempts in ATTEMPTS, oldest first, once its delivery has settled (dead or delivered). */
async function settledOutcomes(appId: string, endpointId: string): Promise<string[]> {
  let outcomes: string[] = [];
  await waitFor(
    async () => {
      outcomes = (await attemptRecords(stack))
        .filter((r) => r.appId === appId && r.endpointId === endpointId)
        .map((r) => r.outcome);
      return outcomes.some((o) => o !== "retry");
    },
    { ...WAIT, what: `${appId}/${endpointId} to settle` },
  );
  return outcomes;
}

const at = (server: RecordingServer, path: string) => server.requests.filter((r) => r.path === path);

describe("mqttchat (seed 000): disabled rather than retried", () => {
  it("disables an endpoint that answers 404, the reason on the endpoint and on the dead delivery", async () => {
    const appId = "seed-mq-404";
    const server = await businessServer();
    server.fallback({ status: 404, body: "no such page" });
    // Left at its defaults: a retry would wait seconds, so only the disable settles it this soon.
    await configureApp(stack, {
      appId,
      endpoints: [{ id: "mq", url: `${server.url}/messages-callback.php`, dialect: "mqttchat" }],
    });
    const sent = messageEvent(appId);
    await publish(stack.client, [sent]);

    const view = await waitForDisabled(appId, "mq");
    expect(view.state).toMatchObject({ state: "disabled", reason: "answered HTTP 404" });
    const [dead] = await deadInLogs(appId, "mq");
    expect(dead).toMatchObject({
      eventId: sent.id,
      deliveryId: `${String(sent.id)}:mq`,
      attempt: 1,
      statusCode: 404,
      outcome: "dead",
      error: "HTTP 404 (endpoint disabled: answered HTTP 404)",
    });
    expect(at(server, "/messages-callback.php")).toHaveLength(1);
  });

  it("disables an endpoint that never answers after 3 timeouts in a row", async () => {
    const appId = "seed-mq-hang";
    const server = await businessServer();
    server.fallback({ hang: true });
    await configureApp(stack, {
      appId,
      endpoints: [
        {
          id: "mq",
          url: `${server.url}/hang`,
          dialect: "mqttchat",
          timeoutMs: 200,
          retry: { scheduleMs: [50, 50, 50, 50, 50], ...NO_JITTER },
          pauseOnTimeouts: NEVER_PAUSE,
        },
      ],
    });
    await publish(stack.client, [messageEvent(appId)]);

    const view = await waitForDisabled(appId, "mq");
    expect(view.state).toMatchObject({ state: "disabled", reason: "no answer: 3 timeouts in a row" });
    const records = await waitForAttempts(stack, appId, 3);
    expect(records.map((r) => [r.attempt, r.outcome])).toEqual([
      [1, "retry"],
      [2, "retry"],
      [3, "dead"],
    ]);
    const [dead] = await deadInLogs(appId, "mq");
    expect(dead).toMatchObject({ attempt: 3, outcome: "dead" });
    expect(dead?.error).toMatch(/^timeout: .*\(endpoint disabled: no answer: 3 timeouts in a row\)$/);
    expect(at(server, "/hang")).toHaveLength(3);
  });

  it("retries a 429 and a 408 without disabling, and keeps an endpoint whose disableOn has no statuses", async () => {
    const appId = "seed-mq-kept";
    const server = await businessServer();
    server.fallback((req) => ({ status: Number(/^\/status-(\d+)$/.exec(req.path)?.[1] ?? 200) }));
    const endpoint = (id: string, status: number, extra: Record<string, unknown> = {}) => ({
      id,
      url: `${server.url}/status-${status}`,
      dialect: "mqttchat",
      retry: { scheduleMs: [50], ...NO_JITTER },
      ...extra,
    });
    await configureApp(stack, {
      appId,
      endpoints: [
        endpoint("busy", 429),
        endpoint("slow", 408),
        endpoint("own", 404, { disableOn: { statuses: [] } }),
      ],
    });
    await publish(stack.client, [messageEvent(appId)]);

    for (const [endpointId, status] of [
      ["busy", 429],
      ["slow", 408],
      ["own", 404],
    ] as const) {
      expect(await settledOutcomes(appId, endpointId), endpointId).toEqual(["retry", "dead"]);
      const [dead] = await deadInLogs(appId, endpointId);
      expect(dead?.error).toBe(`HTTP ${status} (out of attempts: 2)`);
      const view = await endpointView(appId, endpointId);
      expect(view.state.state, endpointId).toBe("active");
      expect(at(server, `/status-${status}`)).toHaveLength(2);
    }
    // The override replaces only what it names: the other rules stay the dialect's.
    expect((await endpointView(appId, "own")).disableOn).toEqual({
      unreachable: true,
      statuses: [],
      timeoutsInARow: 3,
    });
  });
});

let n = 0;
type Payload = DeepPartial<Event>["payload"];
function event(appId: string, payload: Payload): DeepPartial<Event> {
  n += 1;
  return { id: `seed-${process.pid}-${n}`, appId, operationId: `op-seed-${n}`, payload };
}
const connOnline = (appId: string, userId: string, connId: string, platformId: number) =>
  event(appId, { $case: "connectionOnline", value: { userId, connId, platformId, nodeId: "core-1" } });
const connOffline = (appId: string, userId: string, connId: string, platformId: number) =>
  event(appId, {
    $case: "connectionOffline",
    value: { userId, connId, platformId, nodeId: "core-1", reason: OfflineReason.OFFLINE_REASON_LOGOUT },
  });

/** The jobs the router writes for an app, by endpoint (the subject's last token) and event type. */
async function watchJobs(
  appId: string,
): Promise<{ jobs: Array<{ endpointId: string; eventType: string }>; stop(): void }> {
  const sub = stack.nc.subscribe(`${stack.names.subjects.jobs().slice(0, -1)}*.${appId}.>`);
  const jobs: Array<{ endpointId: string; eventType: string }> = [];
  void (async () => {
    for await (const m of sub) {
      jobs.push({
        endpointId: m.subject.slice(m.subject.lastIndexOf(".") + 1),
        eventType: m.headers?.get(JOB_HEADERS.eventType) ?? "",
      });
    }
  })();
  await stack.nc.flush();
  return { jobs, stop: () => sub.unsubscribe() };
}

/** Every event stored so far has been routed, and the jobs it made have reached this connection. */
async function routed(): Promise<void> {
  await waitFor(
    async () =>
      (await partitionsBehind(stack.bus, { name: "router", bucket: stack.names.buckets.delivery })).length ===
      0,
    { timeoutMs: 10_000, what: "the router to route every stored event" },
  );
  await stack.nc.flush();
}

describe("rongcloud: an endpoint without eventTypes is a chatroom status URL", () => {
  it("sends only room records to it, and online records to one that asks for them", async () => {
    const appId = "seed-rc";
    const keys = { appKey: "seedKey", appSecret: "seed-secret" };
    const server = await businessServer();
    await configureApp(stack, {
      appId,
      endpoints: [
        { id: "rooms", url: `${server.url}/chatroom_status_sync`, dialect: "rongcloud", rongcloud: keys },
        {
          id: "online",
          url: `${server.url}/online_status_sync`,
          dialect: "rongcloud",
          rongcloud: keys,
          eventTypes: ["user.online", "user.offline"],
        },
      ],
    });
    const watch = await watchJobs(appId);
    const room = "聊天室🎉";
    const user = "张三";
    await publish(stack.client, [event(appId, { $case: "roomCreated", value: { roomId: room } })]);
    await publish(stack.client, [
      event(appId, { $case: "roomJoined", value: { roomId: room, userIds: [user] } }),
    ]);
    await publish(stack.client, [connOnline(appId, user, "sess-1", 2)]);

    const roomRecords = () =>
      at(server, "/chatroom_status_sync").flatMap(
        (r) => JSON.parse(r.text) as Array<Record<string, unknown>>,
      );
    const onlineRecords = () =>
      at(server, "/online_status_sync").flatMap((r) => JSON.parse(r.text) as Array<Record<string, unknown>>);
    await waitFor(() => roomRecords().length >= 2 && onlineRecords().length >= 1, {
      ...WAIT,
      what: "the room's two records and the user's online record",
    });
    // The online record was routed to both endpoints at once: past it, every job of the app is known.
    await routed();
    watch.stop();

    for (const req of server.requests)
      verifyRongCloud({ url: req.url, appSecret: keys.appSecret, appKey: keys.appKey });
    expect(roomRecords().every((r) => r["chatRoomId"] === room)).toBe(true);
    expect(parseRongCloudChatroomBatch(JSON.stringify(roomRecords())).map((r) => r.type)).toEqual([0, 1]);
    expect(onlineRecords()).toEqual([
      expect.objectContaining({ userid: user, status: "0", sessionId: "sess-1" }),
    ]);
    const typesOf = (endpointId: string) =>
      new Set(watch.jobs.filter((j) => j.endpointId === endpointId).map((j) => j.eventType));
    expect(typesOf("rooms")).toEqual(new Set(["room.status"]));
    expect(typesOf("online")).toEqual(new Set(["user.online"]));
    const settled = await waitForAttempts(stack, appId, 3);
    expect(settled.filter((r) => r.endpointId === "rooms").every((r) => r.eventType === "room.status")).toBe(
      true,
    );
  });
});

describe("openim (seed 002): online and offline callbacks per connection", () => {
  it("sends one callback per device login and logout, with its connID and platform, explicit or from webhooks.yml", async () => {
    const appId = "seed-oim";
    const user = "王小明🙂";
    const server = await businessServer();
    await configureApp(stack, {
      appId,
      openim: {
        url: `${server.url}/webhooks`,
        hooks: { afterUserOnline: { enable: true }, afterUserOffline: { enable: true } },
      },
      endpoints: [
        { id: "oim", url: `${server.url}/explicit`, dialect: "openim", openim: { urlStyle: "query" } },
        // The user-level change stays available, for whoever wants OpenIM bodies per user.
        {
          id: "per-user",
          url: `${server.url}/per-user`,
          dialect: "openim",
          openim: { urlStyle: "query" },
          eventTypes: ["user.online", "user.offline"],
        },
      ],
    } as unknown as Parameters<typeof configureApp>[1]);
    const watch = await watchJobs(appId);
    const phone = connOnline(appId, user, "conn-ios-1", 1);
    const desktop = connOnline(appId, user, "conn-win-2", 3);
    await publish(stack.client, [phone]);
    await publish(stack.client, [desktop]);

    const calls = (prefix: string) =>
      server.requests
        .filter((r) => r.path.startsWith(prefix))
        .map((r) => ({ req: r, ...parseOpenIm({ url: r.url, headers: r.headers, body: r.text }) }));
    await waitFor(() => calls("/explicit").length >= 2 && calls("/webhooks").length >= 2, {
      ...WAIT,
      what: "two online callbacks at each endpoint",
    });
    const logins = [
      { ev: phone, connID: "conn-ios-1", platformID: 1, platform: "IOS" },
      { ev: desktop, connID: "conn-win-2", platformID: 3, platform: "Windows" },
    ];
    for (const [prefix, endpointId] of [
      ["/explicit", "oim"],
      ["/webhooks", "openim"],
    ] as const) {
      const online = calls(prefix).sort((a, b) =>
        String(a.body["connID"]).localeCompare(String(b.body["connID"])),
      );
      expect(online.map((c) => c.command)).toEqual([
        "callbackUserOnlineCommand",
        "callbackUserOnlineCommand",
      ]);
      online.forEach((c, i) => {
        const login = logins[i]!;
        expect(c.body).toMatchObject({
          userID: user,
          callbackCommand: "callbackUserOnlineCommand",
          isAppBackground: false,
          connID: login.connID,
          platformID: login.platformID,
          platform: login.platform,
        });
        expect(c.operationId).toBe(login.ev.operationId);
        expect(heraldDeliveryIds(c.req.headers)).toEqual([`${String(login.ev.id)}:${endpointId}`]);
      });
    }
    expect(
      calls("/webhooks").every((c) => c.req.path.startsWith("/webhooks/callbackUserOnlineCommand")),
    ).toBe(true);

    const logout = connOffline(appId, user, "conn-ios-1", 1);
    await publish(stack.client, [logout]);
    await waitFor(() => calls("/explicit").length >= 3 && calls("/webhooks").length >= 3, {
      ...WAIT,
      what: "one offline callback at each endpoint",
    });
    for (const prefix of ["/explicit", "/webhooks"]) {
      const offline = calls(prefix).filter((c) => c.command === "callbackUserOfflineCommand");
      expect(offline).toHaveLength(1);
      expect(offline[0]?.body).toMatchObject({
        userID: user,
        connID: "conn-ios-1",
        platformID: 1,
        platform: "IOS",
      });
      expect(offline[0]?.body).not.toHaveProperty("isAppBackground");
    }
    // One device is still logged in: the user stays online.
    const presencePath = `/v1/apps/${appId}/presence/users/${encodeURIComponent(user)}`;
    await waitFor(
      async () => {
        const res = await admin("GET", presencePath);
        return res.status === 200 && res.body.connections?.length === 1;
      },
      { ...WAIT, what: "presence to drop the logged-out connection" },
    );
    const presence = (await admin("GET", presencePath)).body;
    expect(presence.status).toBe("USER_STATUS_ONLINE");
    expect(presence.connections.map((c: { connId: string }) => c.connId)).toEqual(["conn-win-2"]);

    // The user-level endpoint: one online callback, for the user's first login; no offline.
    await waitFor(() => calls("/per-user").length >= 1, { ...WAIT, what: "the user-level online callback" });
    await routed();
    watch.stop();
    expect(calls("/per-user").map((c) => [c.command, c.body["connID"]])).toEqual([
      ["callbackUserOnlineCommand", "conn-ios-1"],
    ]);
    const jobsOf = (endpointId: string) =>
      watch.jobs.filter((j) => j.endpointId === endpointId).map((j) => j.eventType);
    for (const endpointId of ["oim", "openim"]) {
      expect(jobsOf(endpointId)).toEqual(["conn.online", "conn.online", "conn.offline"]);
    }
    expect(jobsOf("per-user")).toEqual(["user.online"]);

    // The chat core's node dies with the desktop's connection: no conn.offline comes for it, so the
    // user's offline, which presence derives from the reset, is said per connection too.
    await publish(stack.client, [event(appId, { $case: "nodeReset", value: { nodeId: "core-1" } })]);
    const offlines = (prefix: string) =>
      calls(prefix).filter((c) => c.command === "callbackUserOfflineCommand").length;
    await waitFor(
      () => offlines("/explicit") >= 2 && offlines("/webhooks") >= 2 && offlines("/per-user") >= 1,
      { ...WAIT, what: "an offline callback for the reset at every endpoint" },
    );
    for (const prefix of ["/explicit", "/webhooks"]) {
      const offline = calls(prefix).filter((c) => c.command === "callbackUserOfflineCommand");
      expect(offline.map((c) => c.body["userID"])).toEqual([user, user]);
    }
    expect(calls("/per-user").map((c) => c.command)).toEqual([
      "callbackUserOnlineCommand",
      "callbackUserOfflineCommand",
    ]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeepPartial, Event, HeraldServiceClient } from "@herald/proto";
import { startNats, startPostgres, waitFor, type NatsFixture, type PostgresFixture } from "@herald/testkit";
import { heraldClient, onlineEvent, publish } from "./grpc-client.js";
import { startService, stopAll, type ServiceProcess } from "./harness.js";
import { sendRaw, type RawAnswer } from "./raw-http.js";

// What the admin API does with ids any chat app uses and with input that is wrong: every answer to bad
// input is a 4xx naming the field, never a 5xx.

const ADMIN_TOKEN = "admin-token-for-input-tests-0123456789";
const APP = "intl";

let nats: NatsFixture;
let pg: PostgresFixture;
let gateway: ServiceProcess;
const services: ServiceProcess[] = [];
let client: HeraldServiceClient;

async function call(
  method: string,
  path: string,
  opts: { body?: string; type?: string; token?: string } = {},
): Promise<RawAnswer> {
  const headers: Record<string, string> = { authorization: `Bearer ${opts.token ?? ADMIN_TOKEN}` };
  if (opts.body !== undefined) headers["content-type"] = opts.type ?? "application/json";
  return sendRaw(gateway.adminUrl, method, path, { headers, body: opts.body });
}

interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

function expectError(res: RawAnswer, status: number, field?: string): ErrorBody {
  expect(res.status, res.text).toBe(status);
  const body = res.json as ErrorBody;
  expect(typeof body.error.message, res.text).toBe("string");
  if (field !== undefined) expect(body.error.field, res.text).toBe(field);
  return body;
}

// Users as chat apps name them: Chinese, emoji, Arabic (RTL), and the longest id Publish accepts.
const CJK_USER = "李四";
const EMOJI_USER = "🙂";
const RTL_USER = "مستخدم";
const LONG_USER = "用".repeat(256);
const LONG_ROOM = `room-${"x".repeat(123)}`;
const LONG_EVENT_ID = `e${"1".repeat(127)}`;
const USERS = [CJK_USER, EMOJI_USER, RTL_USER, LONG_USER];

const enc = encodeURIComponent;

beforeAll(async () => {
  [nats, pg] = await Promise.all([startNats(), startPostgres()]);
  const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace };
  // One at a time: each gets its own readiness budget on a loaded machine.
  const logstore = await startService("logstore", { ...env, DATABASE_URL: pg.url });
  services.push(logstore);
  await logstore.waitReady();
  gateway = await startService("gateway", { ...env, ADMIN_TOKEN, LOGSTORE_ADDRESS: logstore.grpcAddress });
  services.push(gateway);
  await gateway.waitReady();
  for (const name of ["presence", "chatroom"] as const) {
    const service = await startService(name, env);
    services.push(service);
    await service.waitReady();
  }
  client = heraldClient(gateway.grpcAddress);
  expect((await call("PUT", `/v1/apps/${APP}`, { body: "{}" })).status).toBe(201);
}, 120_000);

afterAll(async () => {
  client?.close();
  await stopAll(services);
  await Promise.all([nats?.stop(), pg?.stop()]);
}, 60_000);

describe("Unicode and long ids in admin routes", () => {
  beforeAll(async () => {
    const room = (payload: DeepPartial<Event>["payload"]) => onlineEvent(APP, { payload });
    await publish(
      client,
      USERS.map((userId, i) =>
        onlineEvent(APP, {
          payload: {
            $case: "connectionOnline",
            value: { userId, connId: `c${i}`, platformId: 5, nodeId: "n1" },
          },
        }),
      ),
    );
    await publish(client, [room({ $case: "roomCreated", value: { roomId: LONG_ROOM } })]);
    await waitFor(async () => (await call("GET", `/v1/apps/${APP}/rooms/${LONG_ROOM}`)).status === 200, {
      timeoutMs: 20_000,
      what: "the room with a long id",
    });
    await publish(client, [room({ $case: "roomJoined", value: { roomId: LONG_ROOM, userIds: USERS } })]);
    await waitFor(
      async () =>
        (await call("GET", `/v1/apps/${APP}/users/${enc(LONG_USER)}/rooms`)).text.includes(LONG_ROOM),
      { timeoutMs: 20_000, what: "the long user's membership" },
    );
  });

  it("reads presence and rooms of CJK, emoji, RTL and 256-character user ids", async () => {
    for (const userId of USERS) {
      await waitFor(
        async () => (await call("GET", `/v1/apps/${APP}/presence/users/${enc(userId)}`)).status === 200,
        { timeoutMs: 20_000, what: `presence of ${userId.slice(0, 8)}` },
      );
      const presence = await call("GET", `/v1/apps/${APP}/presence/users/${enc(userId)}`);
      expect((presence.json as { userId: string }).userId).toBe(userId);
      const rooms = await call("GET", `/v1/apps/${APP}/users/${enc(userId)}/rooms`);
      expect(rooms.status, rooms.text).toBe(200);
      expect(rooms.json).toEqual({ roomIds: [LONG_ROOM] });
      const attempts = await call("GET", `/v1/apps/${APP}/attempts?userId=${enc(userId)}`);
      expect(attempts.status, attempts.text).toBe(200);
    }
  });

  it("finds the presence events Herald derives for CJK, emoji, RTL and 256-character users", async () => {
    for (const userId of USERS) {
      // The derived event is named after its user: `<app>:<user>:presence:<seq>`.
      const derived = `${APP}:${userId}:presence:1`;
      await waitFor(
        async () => (await call("GET", `/v1/apps/${APP}/events/${enc(derived)}`)).status === 200,
        {
          timeoutMs: 20_000,
          what: `the log store's user.online of ${userId.slice(0, 8)}`,
        },
      );
      const attempts = await call("GET", `/v1/apps/${APP}/attempts?deliveryId=${enc(`${derived}:ep1`)}`);
      expect(attempts.status, attempts.text).toBe(200);
      // Well formed, so the route looks: the app has no endpoint ep1.
      expectError(await call("POST", `/v1/apps/${APP}/deliveries/${enc(`${derived}:ep1`)}/replay`), 404);
    }
  });

  it("takes every id Publish takes: 128-character event ids, long room ids", async () => {
    const event = await call("GET", `/v1/apps/${APP}/events/${LONG_EVENT_ID}`);
    expectError(event, 404, "eventId");
    const attempts = await call("GET", `/v1/apps/${APP}/attempts?eventId=${LONG_EVENT_ID}`);
    expect(attempts.status, attempts.text).toBe(200);
    const replay = await call("POST", `/v1/apps/${APP}/deliveries/${LONG_EVENT_ID}:ep1/replay`);
    expectError(replay, 404);
    const members = await call("GET", `/v1/apps/${APP}/rooms/${LONG_ROOM}/members`);
    expect(members.status, members.text).toBe(200);
  });

  it("refuses ids longer than Publish takes with a 400 naming the field, not 414", async () => {
    expectError(await call("GET", `/v1/apps/${APP}/events/e${"1".repeat(128)}`), 400, "eventId");
    expectError(await call("GET", `/v1/apps/${APP}/presence/users/${enc("用".repeat(257))}`), 400, "userId");
    expectError(await call("GET", `/v1/apps/${APP}/rooms/${"r".repeat(257)}`), 400, "roomId");
    expectError(await call("GET", `/v1/apps/${"a".repeat(65)}`), 400, "appId");
  });
});

describe("control characters in filters and ids", () => {
  const filters = [
    "endpointId",
    "eventId",
    "deliveryId",
    "userId",
    "outcome",
    "kind",
    "from",
    "to",
    "pageSize",
    "pageToken",
  ];

  it("answers 400 naming the field for a NUL byte in each log filter", async () => {
    for (const field of filters) {
      for (const value of ["%00", "a%00b", "%1F", "%C2%85"]) {
        expectError(await call("GET", `/v1/apps/${APP}/attempts?${field}=${value}`), 400, field);
      }
    }
    expectError(await call("GET", `/v1/apps/${APP}/endpoints/e1/activity?limit=%00`), 400, "limit");
  });

  it("answers 400 naming the field for a control character in a path id", async () => {
    expectError(await call("GET", `/v1/apps/${APP}/presence/users/a%00b`), 400, "userId");
    expectError(await call("GET", `/v1/apps/${APP}/users/%07/rooms`), 400, "userId");
    expectError(await call("GET", `/v1/apps/${APP}/rooms/r%00`), 400, "roomId");
    expectError(await call("GET", `/v1/apps/${APP}/events/e%00`), 400, "eventId");
    expectError(await call("GET", `/v1/apps/${APP}%00`), 400, "appId");
  });
});

describe("config larger than the bus carries", () => {
  const padded = (id: string, bytes: number) => ({
    id,
    url: "http://127.0.0.1:9/x",
    dialect: "mqttchat",
    filter: { attentionIds: Array.from({ length: Math.ceil(bytes / 12) }, (_, i) => `user-${i}`) },
  });

  function expectTooLarge(res: RawAnswer): void {
    const body = expectError(res, 413, "body");
    expect(body.error.code).toBe("too_large");
    // The limit is stated, in bytes, and comes from the NATS server (1 MiB by default).
    expect(body.error.message).toMatch(/\b10[0-9]{5} bytes/);
  }

  it("answers 413 stating the limit for a 1.5 MB endpoint list", async () => {
    const endpoints = Array.from({ length: 3 }, (_, i) => padded(`big${i}`, 500_000));
    const body = JSON.stringify({ allowPrivateDestinations: true, endpoints });
    expect(body.length).toBeGreaterThan(1_500_000);
    expectTooLarge(await call("PUT", "/v1/apps/big1", { body }));
    expectError(await call("GET", "/v1/apps/big1"), 404, "appId");
  });

  it("serves a client that asks first (Expect: 100-continue, as curl does) when its body fits", async () => {
    const body = JSON.stringify({ allowPrivateDestinations: true, endpoints: [padded("asked", 100_000)] });
    const res = await sendRaw(gateway.adminUrl, "PUT", "/v1/apps/asked", {
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        "content-type": "application/json",
        expect: "100-continue",
      },
      body,
    });
    expect(res.status, res.text).toBe(201);
    const app = await call("GET", "/v1/apps/asked");
    expect((app.json as { endpoints: unknown[] }).endpoints).toHaveLength(1);
  });

  it("answers 413 when endpoints added one by one would outgrow the bus, and keeps the app", async () => {
    const put = await call("PUT", "/v1/apps/big2", {
      body: JSON.stringify({ allowPrivateDestinations: true }),
    });
    expect(put.status, put.text).toBe(201);
    let added = 0;
    let last: RawAnswer | undefined;
    for (let i = 0; i < 6; i++) {
      last = await call("POST", "/v1/apps/big2/endpoints", {
        body: JSON.stringify(padded(`ep${i}`, 300_000)),
      });
      if (last.status !== 201) break;
      added++;
    }
    expect(added).toBeGreaterThan(0);
    expectTooLarge(last as RawAnswer);
    const app = await call("GET", "/v1/apps/big2");
    expect((app.json as { endpoints: unknown[] }).endpoints).toHaveLength(added);
  });
});

describe("malformed bodies answer 4xx", () => {
  const deep = (depth: number, open: string, close: string) => `${open.repeat(depth)}${close.repeat(depth)}`;
  const deepArray = deep(100_000, "[", "]");
  const deepObject = `${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}`;
  const cases: [string, string, string, string | undefined][] = [
    ["PUT", "/v1/apps/m1", "application/json", "{not json"],
    ["PUT", "/v1/apps/m1", "application/json", ""],
    ["PUT", "/v1/apps/m1", "application/json", "null"],
    ["PUT", "/v1/apps/m1", "application/json", '"text"'],
    ["PUT", "/v1/apps/m1", "application/json", "[1,2]"],
    ["PUT", "/v1/apps/m1", "application/json", deepArray],
    ["PUT", "/v1/apps/m1", "application/json", deepObject],
    ["PUT", "/v1/apps/m1", "application/json", `{"endpoints":[${deepArray}]}`],
    [
      "PUT",
      "/v1/apps/m1",
      "application/json",
      `{"openim":{"url":"http://127.0.0.1:9","hooks":{"x":${deepObject}}}}`,
    ],
    ["PUT", "/v1/apps/m1", "application/json", '{"__proto__":{"x":1}}'],
    ["PUT", "/v1/apps/m1", "application/json", '{"constructor":{"prototype":{"x":1}}}'],
    ["PUT", "/v1/apps/m1", "text/plain", "{}"],
    ["PUT", "/v1/apps/m1", "application/x-www-form-urlencoded", "a=b"],
    ["PUT", "/v1/apps/m1", "multipart/form-data; boundary=x", "--x--"],
    ["PUT", "/v1/apps/m1", "application/json; charset=utf-16", "{}"],
    [
      "POST",
      `/v1/apps/${APP}/endpoints`,
      "application/json",
      `{"id":"e1","url":"http://127.0.0.1:9","dialect":"mqttchat","eventTypes":${deepArray}}`,
    ],
    [
      "POST",
      `/v1/apps/${APP}/endpoints`,
      "application/json",
      `{"id":"e1","url":"${"h".repeat(900_000)}","dialect":"mqttchat"}`,
    ],
    [
      "POST",
      `/v1/apps/${APP}/endpoints`,
      "application/json",
      '{"id":"e1","url":"http://x\\u0000y/","dialect":"mqttchat"}',
    ],
    [
      "PUT",
      `/v1/apps/${APP}/hooks`,
      "application/json",
      `{"url":"http://127.0.0.1:9","hooks":{"beforeSendSingleMsg":${deepObject}}}`,
    ],
    ["PUT", `/v1/apps/${APP}/webhooks.yml`, "text/yaml", "- a\n- b\n"],
    ["PUT", `/v1/apps/${APP}/webhooks.yml`, "text/yaml", ""],
    ["PUT", `/v1/apps/${APP}/webhooks.yml`, "text/yaml", "null\n"],
    ["PUT", `/v1/apps/${APP}/webhooks.yml`, "text/yaml", "url: 5\n"],
    ["PUT", `/v1/apps/${APP}/webhooks.yml`, "text/yaml", "url: http://127.0.0.1:9\nbeforeSendSingleMsg: 7\n"],
    ["PUT", `/v1/apps/${APP}/webhooks.yml`, "text/yaml", `${"[".repeat(50_000)}${"]".repeat(50_000)}`],
    ["PUT", `/v1/apps/${APP}/webhooks.yml`, "text/yaml", "a: &a [1]\nb: *a\nurl: http://127.0.0.1:9\n"],
    ["PUT", `/v1/apps/${APP}/webhooks.yml`, "text/yaml", "\u0000"],
    [
      "PUT",
      `/v1/apps/${APP}/webhooks.yml`,
      "text/yaml",
      [
        "a: &a [x, x, x, x, x, x, x, x, x]",
        ..."bcdefghi"
          .split("")
          .map((c, i) => `${c}: &${c} [${Array(9).fill(`*${"abcdefghi"[i]}`).join(", ")}]`),
      ].join("\n"),
    ],
    ["PUT", `/v1/apps/${APP}/webhooks.yml`, "application/json", "{}"],
    [
      "POST",
      `/v1/apps/${APP}/endpoints/e1/replay`,
      "application/json",
      '{"since":"2020-01-01T00:00:00Z","x":1}',
    ],
    ["POST", `/v1/apps/${APP}/endpoints/e1/disable`, "application/json", `{"reason":${deepArray}}`],
    ["GET", `/v1/apps/${APP}/attempts?pageSize=1&pageSize=2`, "", undefined],
    ["GET", `/v1/apps/${APP}/attempts?userId=%FF`, "", undefined],
    ["GET", `/v1/apps/${APP}/attempts?from=0000-01-01T00:00:00Z`, "", undefined],
    ["GET", `/v1/apps/${APP}/attempts?from=9999-12-31T23:59:59Z`, "", undefined],
    ["GET", `/v1/apps/${APP}/attempts?pageToken=WyIxIiwieCJd`, "", undefined],
    ["GET", `/v1/apps/${APP}/presence/users/%FF`, "", undefined],
    ["GET", `/v1/apps/${APP}/presence/users/%E4%B8`, "", undefined],
    ["GET", `/v1/apps/${APP}/presence/users?pageToken=${"A".repeat(5000)}`, "", undefined],
    ["GET", `/v1/apps/${APP}/rooms?pageToken=${"z".repeat(5000)}`, "", undefined],
    ["GET", `/v1/apps/${APP}/rooms/a*b`, "", undefined],
    ["GET", `/v1/apps/${APP}/rooms/a%20b`, "", undefined],
    ["GET", `/v1/apps/${APP}/users/a.b/rooms`, "", undefined],
    ["GET", "/v1/apps/%FF", "", undefined],
  ];

  it.each(cases.map((c, i) => [i, ...c] as const))(
    "case %i: %s %s (%s)",
    async (_i, method, path, type, body) => {
      const res = await call(method, path.slice(0, 2000), body === undefined ? {} : { body, type });
      expect(res.status, `${res.status} ${res.text.slice(0, 300)}`).toBeLessThan(500);
      if (res.status >= 400) expect((res.json as ErrorBody).error.code, res.text).toBeDefined();
    },
  );
});

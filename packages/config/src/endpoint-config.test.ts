import { dialectOf } from "@herald/dialects";
import { describe, expect, it } from "vitest";
import {
  eventTypeMatches,
  hookConfig,
  parseHeraldConfig,
  validateAppConfig,
  validateEndpoint,
} from "./index.js";
import { refusal } from "./__fixtures__/refusal.js";

// Svix's example secret: 24 bytes.
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER_SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;

const ENDPOINTS_YAML = `
apps:
  chat:
    allowPrivateDestinations: true
    endpoints:
      presence:
        url: http://10.0.0.5:8080/mqtt/callback
        dialect: mqttchat
      rooms:
        url: https://api.example.com/rongcloud/sync
        dialect: rongcloud
        rongcloud: { appKey: key1, appSecret: secret1 }
        batch: { maxLingerMs: 500ms }
      hooks:
        url: https://api.example.com/webhooks
        dialect: standard
        eventTypes: ["user.*", msg.sent]
        secrets:
          - ${OTHER_SECRET}
          - { value: ${SECRET}, expiresAt: "2030-01-01T00:00:00Z" }
        timeoutMs: 2s
        retry: { scheduleMs: [500ms, 5s, 5m, 2h, 1d, 250], jitter: 0 }
        pauseOnTimeouts: { count: 5, windowMs: 1m, pauseMs: 2m }
        disableAfterFailingMs: 3d
        filter: { deniedTypes: [101, "200-300"], attentionIds: [u1, 42] }
  im:
    openim:
      url: http://127.0.0.1:10006/callbackExample
      urlStyle: query
    endpoints:
      after:
        url: http://127.0.0.1:10006/after
        dialect: openim
`;

/** Herald's YAML with one app `a` whose endpoint `e` has `fields` (indented by the caller: 6 spaces). */
function oneEndpoint(fields: string): string {
  return `apps:\n  a:\n    endpoints:\n      e:\n${fields}`;
}

describe("endpoints in Herald's YAML", () => {
  it("loads an app without openim, fills each dialect's defaults and reads durations", async () => {
    const { apps, warnings } = await parseHeraldConfig(ENDPOINTS_YAML, { file: "herald.yml" });
    expect(warnings).toEqual([]);
    const chat = apps[0]!;
    expect(chat.openim).toBeUndefined();
    expect(chat.allowPrivateDestinations).toBe(true);
    // Ordered by id, whatever the file's order.
    expect(chat.endpoints.map((e) => e.id)).toEqual(["hooks", "presence", "rooms"]);
    const [hooks, presence, rooms] = chat.endpoints;

    expect(presence).toEqual({
      id: "presence",
      url: "http://10.0.0.5:8080/mqtt/callback",
      dialect: "mqttchat",
      eventTypes: ["user.online", "user.offline", "node.reset", "msg.sent"],
      filter: { deniedTypes: [], allowedTypes: [], attentionIds: [] },
      secrets: [],
      timeoutMs: 5_000,
      retry: { scheduleMs: [5_000, 30_000, 120_000, 600_000, 1_800_000], jitter: 0.1 },
      concurrency: 16,
      ordering: "key",
      batch: { maxRecords: 1, maxLingerMs: 0 },
      pauseOnTimeouts: { count: 20, windowMs: 10_000, pauseMs: 60_000 },
      // Seed 000: unreachable, "401, 403 etc." and the timeouts of an inaccessible URL disable it.
      disableOn: {
        unreachable: true,
        statuses: [
          [400, 407],
          [409, 428],
          [430, 499],
        ],
        timeoutsInARow: 3,
      },
      disableAfterFailingMs: 0,
      failingAfterAttempts: 4,
      operational: false,
    });
    expect(rooms).toMatchObject({
      dialect: "rongcloud",
      rongcloud: { appKey: "key1", appSecret: "secret1" },
      eventTypes: [...dialectOf("rongcloud").defaults.eventTypes],
      retry: { scheduleMs: [1_000, 5_000], jitter: 0 },
      batch: { maxRecords: 100, maxLingerMs: 500 },
      ordering: "key",
    });
    expect(hooks).toEqual({
      id: "hooks",
      url: "https://api.example.com/webhooks",
      dialect: "standard",
      eventTypes: ["user.*", "msg.sent"],
      filter: {
        deniedTypes: [
          [101, 101],
          [200, 300],
        ],
        allowedTypes: [],
        attentionIds: ["u1", "42"],
      },
      secrets: [{ value: OTHER_SECRET }, { value: SECRET, expiresAt: "2030-01-01T00:00:00Z" }],
      timeoutMs: 2_000,
      retry: { scheduleMs: [500, 5_000, 300_000, 7_200_000, 86_400_000, 250], jitter: 0 },
      concurrency: 16,
      ordering: "none",
      batch: { maxRecords: 1, maxLingerMs: 0 },
      pauseOnTimeouts: { count: 5, windowMs: 60_000, pauseMs: 120_000 },
      disableOn: { unreachable: false, statuses: [[410, 410]], timeoutsInARow: 0 },
      disableAfterFailingMs: 3 * 86_400_000,
      failingAfterAttempts: 4,
      operational: false,
    });
    // No openim: every before-hook is disabled.
    expect(hookConfig(chat, "beforeSendSingleMsg").enable).toBe(false);

    const im = apps[1]!;
    expect(im.allowPrivateDestinations).toBe(false);
    // An openim endpoint takes the app's style unless it sets its own.
    expect(im.endpoints[0]?.openim).toEqual({ urlStyle: "query", commandNames: "seed" });
    expect(im.endpoints[0]?.retry).toEqual({
      scheduleMs: [...dialectOf("openim").defaults.retry.scheduleMs],
      jitter: 0.1,
    });
  });

  it("gives the standard dialect its 5 days before disabling", () => {
    const endpoint = validateEndpoint({
      id: "e",
      url: "https://h/",
      dialect: "standard",
      secrets: [{ value: SECRET }],
    });
    expect(endpoint.disableAfterFailingMs).toBe(5 * 86_400_000);
    expect(endpoint.retry.jitter).toBe(0.2);
    expect(endpoint.eventTypes).toEqual([...dialectOf("standard").defaults.eventTypes]);
  });

  it("stores the YAML's endpoints as validateAppConfig reads them back, byte for byte", async () => {
    const { apps } = await parseHeraldConfig(ENDPOINTS_YAML, { file: "herald.yml" });
    for (const app of apps) {
      const once = JSON.stringify(validateAppConfig(app));
      expect(JSON.stringify(validateAppConfig(JSON.parse(once)))).toBe(once);
    }
  });

  it("warns about unknown keys with their path, and still loads", async () => {
    const { apps, warnings } = await parseHeraldConfig(
      oneEndpoint(
        [
          "        url: http://h/cb",
          "        dialect: mqttchat",
          "        colour: blue",
          "        id: other",
          "        retry: { jitterr: 0.5 }",
        ].join("\n"),
      ),
      { file: "herald.yml" },
    );
    expect(apps[0]?.endpoints[0]?.id).toBe("e");
    expect(warnings).toEqual([
      { path: "apps.a.endpoints.e.colour", message: "unknown key" },
      { path: "apps.a.endpoints.e.id", message: "ignored: an endpoint's key is its id" },
      { path: "apps.a.endpoints.e.retry.jitterr", message: "unknown key" },
    ]);
  });

  it("still refuses an app with neither openim nor endpoints", async () => {
    const err = await refusal(() =>
      parseHeraldConfig("apps:\n  a:\n    breaker: {}\n", { file: "herald.yml" }),
    );
    expect(err.path).toBe("apps.a.openim");
  });

  it.each([
    [
      "a bad dialect",
      "        url: http://h/\n        dialect: slack\n",
      "apps.a.endpoints.e.dialect",
      6,
      /expected one of/,
    ],
    ["no dialect", "        url: http://h/\n", "apps.a.endpoints.e.dialect", 4, /expected one of/],
    [
      "a standard endpoint without a secret",
      "        url: http://h/\n        dialect: standard\n",
      "apps.a.endpoints.e.secrets",
      4,
      /required for dialect standard/,
    ],
    [
      "an empty list of secrets",
      "        url: http://h/\n        dialect: standard\n        secrets: []\n",
      "apps.a.endpoints.e.secrets",
      7,
      /required for dialect standard/,
    ],
    [
      "a secret that is not whsec_",
      "        url: http://h/\n        dialect: standard\n        secrets: [sk_live_123]\n",
      "apps.a.endpoints.e.secrets.0.value",
      7,
      /whsec_/,
    ],
    [
      "a whsec_ secret too short",
      `        url: http://h/\n        dialect: standard\n        secrets: [whsec_${Buffer.alloc(8).toString("base64")}]\n`,
      "apps.a.endpoints.e.secrets.0.value",
      7,
      /bytes/,
    ],
    [
      "a rongcloud endpoint without keys",
      "        url: http://h/\n        dialect: rongcloud\n",
      "apps.a.endpoints.e.rongcloud",
      4,
      /required for dialect rongcloud/,
    ],
    [
      "a rongcloud endpoint without its secret",
      "        url: http://h/\n        dialect: rongcloud\n        rongcloud: { appKey: k }\n",
      "apps.a.endpoints.e.rongcloud.appSecret",
      7,
      /app secret/,
    ],
    [
      "a batch on a dialect that sends one record",
      "        url: http://h/\n        dialect: mqttchat\n        batch: { maxRecords: 10 }\n",
      "apps.a.endpoints.e.batch.maxRecords",
      7,
      /dialect mqttchat sends one record per request/,
    ],
    [
      "rongcloud keys on another dialect",
      "        url: http://h/\n        dialect: openim\n        rongcloud: { appKey: k, appSecret: s }\n",
      "apps.a.endpoints.e.rongcloud",
      7,
      /only for dialect rongcloud/,
    ],
    [
      "a duration with no unit",
      "        url: http://h/\n        dialect: mqttchat\n        timeoutMs: 5 seconds\n",
      "apps.a.endpoints.e.timeoutMs",
      7,
      /expected milliseconds or a duration/,
    ],
    [
      "a retry delay that is not a duration",
      "        url: http://h/\n        dialect: mqttchat\n        retry:\n          scheduleMs: [1s, soon]\n",
      "apps.a.endpoints.e.retry.scheduleMs.1",
      8,
      /expected milliseconds or a duration/,
    ],
    [
      "a timeout over a minute",
      "        url: http://h/\n        dialect: mqttchat\n        timeoutMs: 2m\n",
      "apps.a.endpoints.e.timeoutMs",
      7,
      /1 to 60000/,
    ],
    [
      "a jitter over 1",
      "        url: http://h/\n        dialect: mqttchat\n        retry: { jitter: 1.5 }\n",
      "apps.a.endpoints.e.retry.jitter",
      7,
      /fraction/,
    ],
    [
      "a bad event type pattern",
      "        url: http://h/\n        dialect: mqttchat\n        eventTypes: [user*]\n",
      "apps.a.endpoints.e.eventTypes.0",
      7,
      /event type/,
    ],
    ["a bad url", "        url: ftp://h/\n        dialect: mqttchat\n", "apps.a.endpoints.e.url", 5, /http/],
  ])("refuses %s, naming the field and line", async (_label, fields, path, line, message) => {
    const err = await refusal(() => parseHeraldConfig(oneEndpoint(fields), { file: "herald.yml" }));
    expect(err.path).toBe(path);
    expect(err.line).toBe(line);
    expect(err.message).toMatch(message);
  });

  it("refuses endpoints given as a list, and a bad endpoint id", async () => {
    const list = await refusal(() =>
      parseHeraldConfig("apps:\n  a:\n    endpoints:\n      - url: http://h/\n", { file: "herald.yml" }),
    );
    expect(list.path).toBe("apps.a.endpoints");
    const id = await refusal(() =>
      parseHeraldConfig(
        oneEndpoint("        url: http://h/\n        dialect: mqttchat\n").replace("e:", "e.1:"),
        {
          file: "herald.yml",
        },
      ),
    );
    expect(id.path).toBe("apps.a.endpoints.e.1");
  });
});

describe("endpoints in the stored form", () => {
  const endpoint = (id: string, extra: Record<string, unknown> = {}) => ({
    id,
    url: "http://h/cb",
    dialect: "mqttchat",
    ...extra,
  });

  it("takes an operational endpoint in a dialect that says endpoint.*, which then receives only those", async () => {
    const ops = validateEndpoint({
      ...endpoint("ops"),
      dialect: "standard",
      secrets: [{ value: SECRET }],
      operational: true,
    });
    expect(ops).toMatchObject({ operational: true, eventTypes: ["endpoint.*"], failingAfterAttempts: 4 });
    expect(validateEndpoint(endpoint("mq")).operational).toBe(false);
    const dialect = await refusal(() => validateEndpoint(endpoint("mq", { operational: true }), "ep"));
    expect(dialect.path).toBe("ep.operational");
    expect(dialect.message).toMatch(/cannot say operational events .*use standard/);
    const types = await refusal(() =>
      validateEndpoint(
        {
          ...endpoint("ops"),
          dialect: "standard",
          secrets: [{ value: SECRET }],
          operational: true,
          eventTypes: ["endpoint.disabled", "msg.sent"],
        },
        "ep",
      ),
    );
    expect(types.path).toBe("ep.eventTypes.1");
    const count = await refusal(() => validateEndpoint(endpoint("mq", { failingAfterAttempts: -1 }), "ep"));
    expect(count.path).toBe("ep.failingAfterAttempts");
  });

  it("refuses a duplicate id, naming the second", async () => {
    const err = await refusal(() =>
      validateAppConfig({ appId: "a", endpoints: [endpoint("x"), endpoint("y"), endpoint("x")] }, "apps.a"),
    );
    expect(err.path).toBe("apps.a.endpoints.2.id");
    expect(err.message).toContain("duplicate endpoint id");
  });

  it("takes durations only as integers of milliseconds, and refuses unknown keys", async () => {
    const text = await refusal(() =>
      validateAppConfig({ appId: "a", endpoints: [endpoint("x", { timeoutMs: "5s" })] }, "apps.a"),
    );
    expect(text.path).toBe("apps.a.endpoints.0.timeoutMs");
    const unknown = await refusal(() => validateEndpoint(endpoint("x", { colour: "blue" }), "ep"));
    expect(unknown.path).toBe("ep.colour");
    expect(unknown.message).toMatch(/unknown key/);
  });

  it("refuses a bad dialect, a missing secret, keys for another dialect and a batch", async () => {
    expect((await refusal(() => validateEndpoint(endpoint("x", { dialect: "slack" })))).path).toBe("dialect");
    expect((await refusal(() => validateEndpoint(endpoint("x", { dialect: "standard" })))).path).toBe(
      "secrets",
    );
    expect(
      (
        await refusal(() =>
          validateEndpoint(endpoint("x", { dialect: "standard", secrets: [{ value: "whsec_!" }] })),
        )
      ).path,
    ).toBe("secrets.0.value");
    expect(
      (await refusal(() => validateEndpoint(endpoint("x", { secrets: [{ value: SECRET }] })))).path,
    ).toBe("secrets");
    expect((await refusal(() => validateEndpoint(endpoint("x", { dialect: "rongcloud" })))).path).toBe(
      "rongcloud",
    );
    expect(
      (await refusal(() => validateEndpoint(endpoint("x", { openim: { urlStyle: "query" } })))).path,
    ).toBe("openim");
    expect((await refusal(() => validateEndpoint(endpoint("x", { batch: { maxRecords: 2 } })))).path).toBe(
      "batch.maxRecords",
    );
  });

  it("defaults an app to no endpoints and no private destinations", () => {
    const app = validateAppConfig({ appId: "a", openim: { url: "http://h" } });
    expect(app.endpoints).toEqual([]);
    expect(app.allowPrivateDestinations).toBe(false);
  });
});

describe("eventTypeMatches", () => {
  it.each([
    [["*"], "anything.at.all", true],
    [["msg.sent"], "msg.sent", true],
    [["msg.sent"], "msg.sent.extra", false],
    [["user.*"], "user.online", true],
    [["user.*"], "user", false],
    [["user.*"], "users.online", false],
    [["openim.*"], "openim.afterSendSingleMsg", true],
    [["msg.sent", "room.*"], "room.status", true],
    [[], "msg.sent", false],
  ])("%j selects %s: %s", (patterns, type, expected) => {
    expect(eventTypeMatches(patterns, type)).toBe(expected);
  });
});

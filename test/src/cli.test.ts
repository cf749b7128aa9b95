import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyStandardWebhook } from "@herald/receiver";
import { waitFor } from "@herald/testkit";
import { loggedDeliveryStack } from "./delivery-fixture.js";
import { runCli, startCli, type RunningCli } from "./cli-process.js";

// The herald CLI end to end: the built command as a user runs it, against a gateway, evaluator,
// presence, chatroom, deliverer and log store on real NATS and Postgres.

const ADMIN_TOKEN = "admin-token-for-cli-tests-0123456789";
const logged = loggedDeliveryStack({ adminToken: ADMIN_TOKEN, also: ["presence", "chatroom", "evaluator"] });
let home: string;
let env: Record<string, string>;
const running: RunningCli[] = [];

beforeAll(() => {
  home = mkdtempSync(path.join(tmpdir(), "herald-cli-"));
  env = {
    HERALD_HOME: home,
    HERALD_GRPC: logged.stack.gateway.grpcAddress,
    HERALD_ADMIN_URL: logged.stack.gateway.adminUrl,
    ADMIN_TOKEN,
  };
});

afterAll(async () => {
  await Promise.all(running.map((cli) => cli.interrupt()));
  rmSync(home, { recursive: true, force: true });
});

const herald = (...args: string[]) => runCli(args, { env });
const heraldWith = (input: string, ...args: string[]) => runCli(args, { env, input });
function background(...args: string[]): RunningCli {
  const cli = startCli(args, { env });
  running.push(cli);
  return cli;
}

/** The JSON lines a --json command printed. */
function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("help and usage", () => {
  const commands = [
    [],
    ["publish"],
    ...["online", "offline", "background", "message", "room-created", "room-joined", "room-left"].map((k) => [
      "publish",
      k,
    ]),
    ["publish", "room-destroyed"],
    ["publish", "node-reset"],
    ["publish", "heartbeat"],
    ["publish", "passthrough"],
    ["before"],
    ...["list", "get", "create", "delete"].map((c) => ["apps", c]),
    ...["list", "add", "update", "remove", "enable", "disable", "pause", "test", "rotate-secret"].map((c) => [
      "endpoints",
      c,
    ]),
    ...["list", "create", "revoke"].map((c) => ["keys", c]),
    ["nodes"],
    ["tail"],
    ["replay"],
    ["story"],
    ["receive"],
  ];

  // One process per command (about forty): a few at a time, and room for a loaded machine.
  it("answers --help on every command, with exit code 0", { timeout: 180_000 }, async () => {
    const queue = [...commands];
    const worker = async () => {
      for (let command = queue.shift(); command !== undefined; command = queue.shift()) {
        const res = await herald(...command, "--help");
        expect(res.code, `${command.join(" ")} --help: ${res.stderr}`).toBe(0);
        expect(res.stdout).toContain(`Usage: herald ${command.join(" ")}`.trim());
      }
    };
    await Promise.all(Array.from({ length: 3 }, worker));
  });

  it("exits 2 on a wrong command line, naming the flag", async () => {
    const unknown = await herald("apps", "list", "--bogus");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--bogus");
    const missing = await herald("publish", "--app", "a", "online");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--user");
    const notInt = await herald("publish", "--app", "a", "online", "--user", "u", "--platform-id", "web");
    expect(notInt.code).toBe(2);
    expect(notInt.stderr).toContain("--platform-id");
    const reason = await herald("publish", "--app", "a", "offline", "--user", "u", "--reason", "bored");
    expect(reason.code).toBe(2);
    expect(reason.stderr).toContain("--reason: expected one of UNSPECIFIED (0), LOGOUT (1)");
    const dialect = await herald("receive", "--dialect", "smoke-signals");
    expect(dialect.code).toBe(2);
    expect(dialect.stderr).toContain("--dialect");
  });
});

describe("apps and keys", () => {
  it("creates, lists, shows and deletes an app", async () => {
    const created = await herald("apps", "create", "cli-app");
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain("created app cli-app");
    const again = await herald("apps", "create", "cli-app");
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("exists already");
    const list = await herald("--json", "apps", "list");
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { apps: { appId: string }[] }).apps.map((a) => a.appId)).toContain(
      "cli-app",
    );
    const got = await herald("apps", "get", "cli-app");
    expect(JSON.parse(got.stdout)).toMatchObject({ appId: "cli-app", source: "api" });
    const deleted = await herald("apps", "delete", "cli-app");
    expect(deleted.code, deleted.stderr).toBe(0);
    const gone = await herald("apps", "get", "cli-app");
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("appId");
  });

  it("refuses a bad app id with exit code 1, naming the field", async () => {
    const res = await herald("apps", "create", "no spaces allowed");
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("appId");
  });

  it("creates, lists and revokes keys; a key reaches its app", async () => {
    await herald("apps", "create", "keyed");
    const created = await herald("--json", "keys", "create", "--app", "keyed");
    expect(created.code, created.stderr).toBe(0);
    const { id, key } = JSON.parse(created.stdout) as { id: string; key: string };
    expect(key).toMatch(/^hak_keyed_/);
    const listed = await herald("keys", "list", "--app", "keyed");
    expect(listed.stdout).toContain(id);
    const asKey = await runCli(["endpoints", "list", "--app", "keyed"], {
      env: { ...env, ADMIN_TOKEN: key },
    });
    expect(asKey.code, asKey.stderr).toBe(0);
    const revoked = await herald("keys", "revoke", id, "--app", "keyed");
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await herald("keys", "list", "--app", "keyed")).stdout).not.toContain(id);
    const refused = await runCli(["endpoints", "list", "--app", "keyed"], {
      env: { ...env, ADMIN_TOKEN: key },
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("invalid token");
  });
});

describe("endpoints", () => {
  it("adds, lists, updates, disables, enables, tests, rotates the secret of and removes an endpoint", async () => {
    await herald("apps", "create", "ep-app");
    const server = await logged.businessServer();
    const added = await herald(
      "endpoints",
      "add",
      "--app",
      "ep-app",
      "--id",
      "ep1",
      "--url",
      `${server.url}/one`,
      "--events",
      "user.*,msg.sent",
    );
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/signs with secret whsec_[A-Za-z0-9+/=]+/);
    const list = await herald("endpoints", "list", "--app", "ep-app");
    expect(list.stdout).toContain(`ep1  standard  ${server.url}/one  active  events user.*,msg.sent`);
    const updated = await herald(
      "endpoints",
      "update",
      "ep1",
      "--app",
      "ep-app",
      "--url",
      `${server.url}/two`,
    );
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout).toContain(`${server.url}/two`);
    const badUrl = await herald("endpoints", "update", "ep1", "--app", "ep-app", "--url", "ftp://nope");
    expect(badUrl.code).toBe(1);
    expect(badUrl.stderr).toContain("url");
    const disabled = await herald(
      "endpoints",
      "disable",
      "ep1",
      "--app",
      "ep-app",
      "--reason",
      "maintenance",
    );
    expect(disabled.stdout).toContain("endpoint ep1 is disabled (disabled by operator: maintenance)");
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const paused = await herald("endpoints", "pause", "ep1", "--app", "ep-app", "--until", until);
    expect(paused.stdout, paused.stderr).toContain(
      `endpoint ep1 is paused until ${until} (paused by operator)`,
    );
    const past = await herald(
      "endpoints",
      "pause",
      "ep1",
      "--app",
      "ep-app",
      "--until",
      "2001-01-01T00:00:00Z",
    );
    expect(past.code).toBe(1);
    expect(past.stderr).toContain("until");
    const enabled = await herald("endpoints", "enable", "ep1", "--app", "ep-app");
    expect(enabled.stdout).toContain("endpoint ep1 is active");
    const rotated = await herald("--json", "endpoints", "rotate-secret", "ep1", "--app", "ep-app");
    const { secret } = JSON.parse(rotated.stdout) as { secret: string };
    const tested = await herald("endpoints", "test", "ep1", "--app", "ep-app", "--type", "user.online");
    expect(tested.code, tested.stderr).toBe(0);
    const [request] = await server.waitForRequests(1, { timeoutMs: 20_000 });
    expect(request?.path).toBe("/two");
    expect(() =>
      verifyStandardWebhook({ headers: request!.headers, body: request!.body, secrets: [secret] }),
    ).not.toThrow();
    const badType = await herald("endpoints", "test", "ep1", "--app", "ep-app", "--type", "nope");
    expect(badType.code).toBe(1);
    expect(badType.stderr).toContain("type");
    const removed = await herald("endpoints", "remove", "ep1", "--app", "ep-app");
    expect(removed.code, removed.stderr).toBe(0);
    expect((await herald("endpoints", "list", "--app", "ep-app")).stdout).toContain("has no endpoints");
  });
});

describe("publish, receive, tail, story, replay", () => {
  const user = "李四😀";

  it("delivers a published event to a registered receiver that verifies it, and shows it everywhere", async () => {
    await herald("apps", "create", "flow");
    const receiver = background("--json", "receive", "--app", "flow");
    await receiver.waitForOutput('"listening"');
    const ready = jsonLines(receiver.stdout())[0] as { endpointId: string; secret: string };
    expect(ready.secret).toMatch(/^whsec_/);
    const tail = background("tail", "--app", "flow", "--interval", "200");
    await tail.waitForOutput("tailing attempts of app flow");

    const published = await herald("--json", "publish", "--app", "flow", "online", "--user", user);
    expect(published.code, published.stderr).toBe(0);
    const [result] = (JSON.parse(published.stdout) as { results: { eventId: string; duplicate: boolean }[] })
      .results;
    expect(result?.duplicate).toBe(false);
    const eventId = result?.eventId ?? "";

    await receiver.waitForOutput("user.online");
    const callback = jsonLines(receiver.stdout()).find((l) => l["method"] === "POST");
    expect(callback).toMatchObject({
      signature: "verified",
      answered: 204,
      payload: { type: "user.online", data: { userId: user } },
    });
    const deliveryId = (callback?.["deliveryIds"] as string[])[0] ?? "";
    expect(deliveryId.endsWith(`:${ready.endpointId}`)).toBe(true);

    await tail.waitForOutput(new RegExp(`user\\.online -> ${ready.endpointId} .* delivered HTTP 204`));

    const story = await waitFor(
      async () => {
        const res = await herald("--json", "story", eventId, "--app", "flow");
        const parsed = JSON.parse(res.stdout) as { event: unknown; derived: { attempts: unknown[] }[] };
        return parsed.event !== null ? parsed : undefined;
      },
      { timeoutMs: 20_000, what: "the event in the log" },
    );
    expect(story.event).toMatchObject({ id: eventId, connectionOnline: { userId: user } });
    // The user.online that presence derived from it is in the story with its delivery.
    await waitFor(
      async () => {
        const res = await herald("--json", "story", eventId, "--app", "flow");
        const { derived } = JSON.parse(res.stdout) as {
          derived: {
            event: { userOnline?: { userId: string } } | null;
            attempts: { outcome?: string }[];
          }[];
        };
        return derived.some(
          (d) => d.event?.userOnline?.userId === user && d.attempts.some((a) => a.outcome === "delivered"),
        );
      },
      { timeoutMs: 20_000, what: "the derived user.online and its delivery in the story" },
    );
    const human = await herald("story", eventId, "--app", "flow");
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`event ${eventId}  conn.online`);
    expect(human.stdout).toMatch(/^ {2}derived: event \S+ {2}user\.online /m);

    const replay = await herald("replay", deliveryId, "--app", "flow");
    expect(replay.code, replay.stderr).toBe(0);
    await waitFor(() => jsonLines(receiver.stdout()).filter((l) => l["method"] === "POST").length >= 2, {
      timeoutMs: 20_000,
      what: "the replayed callback",
    });
    const replayed = jsonLines(receiver.stdout()).filter((l) => l["method"] === "POST")[1];
    expect(replayed).toMatchObject({ signature: "verified", deliveryIds: [deliveryId] });
    const dead = await herald("replay", "--app", "flow", "--endpoint", ready.endpointId, "--since", "1h");
    expect(dead.code, dead.stderr).toBe(0);
    expect(dead.stdout).toContain("replaying 0 dead deliveries");

    expect(await tail.interrupt()).toBe(0);
    expect(await receiver.interrupt()).toBe(0);
    expect((await herald("endpoints", "list", "--app", "flow")).stdout).toContain("has no endpoints");
  });

  it("publishes from JSON (snake_case, enum names, stdin), stores a repeat once, and names a bad field", async () => {
    await herald("apps", "create", "json-app");
    const file = path.join(home, "events.json");
    writeFileSync(
      file,
      JSON.stringify({
        events: [
          { id: "j-1", connection_online: { user_id: user, conn_id: "c1", platform_id: 2, node_id: "n1" } },
          { id: "j-2", connectionOffline: { userId: user, connId: "c1", reason: "OFFLINE_REASON_KICKED" } },
          { id: "j-3", connection_offline: { user_id: "bob", conn_id: "c9", reason: "LOGOUT" } },
        ],
      }),
    );
    const first = await herald("publish", "--app", "json-app", "--file", file);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^stored j-1 \(conn\.online of app json-app\) at stream seq \d+$/m);
    const again = await heraldWith(
      JSON.stringify([
        { id: "j-1", appId: "json-app", connectionOnline: { userId: user, connId: "c1", nodeId: "n1" } },
      ]),
      "publish",
      "-",
    );
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("duplicate j-1");

    const typo = await heraldWith('{"app_id":"json-app","connection_online":{"user":"x"}}', "publish", "-");
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("events[0].connection_online.user: unknown field");
    const badEnum = await heraldWith(
      '{"app_id":"json-app","connection_offline":{"user_id":"x","conn_id":"c","reason":"SLEEPY"}}',
      "publish",
      "-",
    );
    expect(badEnum.code).toBe(2);
    expect(badEnum.stderr).toContain("events[0].connection_offline.reason");
    // The gateway's own checks: exit code 1, and the field as the gateway names it.
    const refused = await herald("publish", "--app", "json-app", "online", "--user", "has space");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("INVALID_ARGUMENT");
    expect(refused.stderr).toContain("user_id");
  });

  it("publishes every kind from flags", async () => {
    await herald("apps", "create", "kinds");
    const kinds = [
      ["online", "--user", "小明", "--conn", "c2"],
      ["background", "--user", "小明", "--conn", "c2"],
      ["offline", "--user", "小明", "--conn", "c2", "--reason", "disconnect"],
      ["message", "--from", "小明", "--to", "🙂", "--content", "你好"],
      ["message", "--from", "小明", "--group", "g1", "--content", "hi all"],
      ["room-created", "--room", "房间1"],
      ["room-joined", "--room", "房间1", "--user", "小明", "--user", "🙂"],
      ["room-left", "--room", "房间1", "--user", "🙂"],
      ["room-destroyed", "--room", "房间1"],
      ["heartbeat", "--node", "n1", "--lease", "30"],
      ["node-reset", "--node", "n1"],
      ["passthrough", "--command", "callbackAfterJoinGroupCommand", "--payload", '{"groupID":"g1"}'],
    ];
    for (const kind of kinds) {
      const res = await herald("publish", "--app", "kinds", ...kind);
      expect(res.code, `${kind.join(" ")}: ${res.stderr}`).toBe(0);
      expect(res.stdout).toMatch(/^stored /);
    }
  });
});

describe("before", () => {
  it("prints a denial with the business server's error fields", async () => {
    const server = await logged.businessServer();
    server.fallback({
      body: { actionCode: 0, errCode: 5001, errMsg: "blocked", errDlt: "spam", nextCode: 1 },
    });
    const body = {
      openim: { url: `${server.url}/im`, hooks: { beforeSendSingleMsg: { enable: true, timeout: 5 } } },
    };
    const created = await herald("apps", "create", "hooked", "--body", JSON.stringify(body));
    expect(created.code, created.stderr).toBe(0);
    const payload = JSON.stringify({ sendID: "小明", recvID: "u2", contentType: 101, content: "hi" });
    const res = await waitFor(
      async () => {
        const r = await herald(
          "--json",
          "before",
          "beforeSendSingleMsg",
          "--app",
          "hooked",
          "--payload",
          payload,
        );
        return r.code === 0 && r.stdout.includes("DECISION_DENY") ? r : undefined;
      },
      { timeoutMs: 20_000, what: "the evaluator to apply the hook settings" },
    );
    expect(JSON.parse(res.stdout)).toMatchObject({
      decision: "DECISION_DENY",
      source: "DECISION_SOURCE_BUSINESS_SERVER",
      errCode: 5001,
      errMsg: "blocked",
      errDlt: "spam",
    });
    const bad = await herald("before", "beforeSendSingleMsg", "--app", "hooked", "--payload", "[1]");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--payload: expected a JSON object");
  });
});

describe("receive in other dialects", () => {
  it("receives OpenIM callbacks and answers them as OpenIM expects", async () => {
    await herald("apps", "create", "im-app");
    const receiver = background("--json", "receive", "--app", "im-app", "--dialect", "openim");
    await receiver.waitForOutput('"listening"');
    const res = await herald("publish", "--app", "im-app", "online", "--user", "王五");
    expect(res.code, res.stderr).toBe(0);
    await receiver.waitForOutput("callbackUserOnlineCommand");
    const callback = jsonLines(receiver.stdout()).find((l) => l["method"] === "POST");
    expect(callback).toMatchObject({ signature: "unsigned", answered: 200 });
    expect(await receiver.interrupt()).toBe(0);
  });

  it("verifies RongCloud's and Tencent's signatures and reads MQTT-chat's presence", async () => {
    await herald("apps", "create", "dialects");
    const receivers = Object.fromEntries(
      ["rongcloud", "tencent", "mqtt-chat"].map((dialect) => [
        dialect,
        background("--json", "receive", "--app", "dialects", "--dialect", dialect),
      ]),
    );
    for (const receiver of Object.values(receivers)) await receiver.waitForOutput('"listening"');
    for (const kind of [
      ["online", "--user", "赵六"],
      ["room-created", "--room", "房间2"],
      ["room-joined", "--room", "房间2", "--user", "赵六"],
    ]) {
      const res = await herald("publish", "--app", "dialects", ...kind);
      expect(res.code, res.stderr).toBe(0);
    }
    const callbacks = async (dialect: string, count: number) => {
      const receiver = receivers[dialect]!;
      await waitFor(
        () => jsonLines(receiver.stdout()).filter((l) => l["method"] === "POST").length >= count,
        {
          timeoutMs: 20_000,
          what: `${count} ${dialect} callbacks`,
        },
      );
      return jsonLines(receiver.stdout()).filter((l) => l["method"] === "POST");
    };
    const roomRecords = async () =>
      (await callbacks("rongcloud", 1)).flatMap((c) => c["payload"] as unknown[]);
    await waitFor(async () => (await roomRecords()).length >= 2, {
      timeoutMs: 20_000,
      what: "both room records",
    });
    expect((await callbacks("rongcloud", 1)).every((c) => c["signature"] === "verified")).toBe(true);
    expect(await roomRecords()).toMatchObject([
      { chatRoomId: "房间2", type: 0 },
      { chatRoomId: "房间2", type: 1, userIds: ["赵六"] },
    ]);
    const [tencent] = await callbacks("tencent", 1);
    expect(tencent).toMatchObject({
      signature: "verified",
      answered: 200,
      payload: { CallbackCommand: "State.StateChange", Info: { To_Account: "赵六", Action: "Login" } },
    });
    const [mqtt] = await callbacks("mqtt-chat", 1);
    expect(mqtt).toMatchObject({
      signature: "unsigned",
      payload: { kind: "presence", presence: { userid: "赵六" } },
    });
    for (const receiver of Object.values(receivers)) expect(await receiver.interrupt()).toBe(0);
  });
});

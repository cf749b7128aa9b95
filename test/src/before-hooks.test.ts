import { writeFile, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Decision, DecisionSource, type HeraldServiceClient } from "@herald/proto";
import { busNames, decodeAttemptRecords } from "@herald/bus";
import {
  freePort,
  startNats,
  startRecordingServer,
  waitFor,
  type NatsFixture,
  type RecordingServer,
} from "@herald/testkit";
import { startService, stopAll, type ServiceProcess } from "./harness.js";
import { before, beforeStream, heraldClient } from "./grpc-client.js";

const CONTINUE = { actionCode: 0, errCode: 0, errMsg: "", errDlt: "", nextCode: "" };
let nats: NatsFixture;
let services: ServiceProcess[] = [];
let client: HeraldServiceClient;
let configFile: string;
const servers: Record<string, RecordingServer> = {};
let closedPort: number;

// Apps of the test config: each has its own business server, so tests cannot see each other's calls.
const APPS = ["cont", "strict", "brk", "q", "refused", "filters", "contHang", "strictHang"] as const;
type AppName = (typeof APPS)[number];

// Seconds a hook waits: calls that must be answered get room for a loaded machine; only the apps whose
// business server hangs on purpose (brk, *Hang) time out soon.
const ANSWERED_TIMEOUT_S = 5;
const HANG_TIMEOUT_S = 1;

function webhooks(failedContinue: boolean, timeout = ANSWERED_TIMEOUT_S) {
  const on = { enable: true, timeout, failedContinue };
  return {
    beforeSendSingleMsg: on,
    beforeOfflinePush: on,
    beforeGroupOnlinePush: on,
    beforeMsgModify: on,
    beforeUpdateUserInfo: on,
    beforeUpdateUserInfoEx: on,
    beforeAddFriend: { enable: false, timeout: 1 },
  };
}

function config(overrides: Record<string, unknown> = {}) {
  const app = (
    name: AppName,
    openim: Record<string, unknown>,
    breaker = { failureThreshold: 100, openMs: 1000 },
  ) => ({
    openim: {
      url: `${servers[name]?.url}/callbackExample`,
      urlStyle: "path",
      commandNames: "seed",
      ...openim,
    },
    breaker,
  });
  return {
    apps: {
      cont: app("cont", { webhooks: webhooks(true) }),
      strict: app("strict", { webhooks: webhooks(false) }),
      brk: app("brk", { webhooks: webhooks(true, HANG_TIMEOUT_S) }, { failureThreshold: 2, openMs: 1500 }),
      contHang: app("contHang", { webhooks: webhooks(true, HANG_TIMEOUT_S) }),
      strictHang: app("strictHang", { webhooks: webhooks(false, HANG_TIMEOUT_S) }),
      q: app("q", { urlStyle: "query", commandNames: "current", webhooks: webhooks(true) }),
      refused: {
        ...app("refused", { webhooks: webhooks(false) }),
        openim: { url: `http://127.0.0.1:${closedPort}/cb`, webhooks: webhooks(false) },
      },
      filters: app("filters", {
        webhooks: {
          beforeSendSingleMsg: { enable: true, timeout: ANSWERED_TIMEOUT_S, deniedTypes: [102, "110-120"] },
          beforeSendGroupMsg: { enable: true, timeout: ANSWERED_TIMEOUT_S, allowedTypes: [101] },
        },
      }),
      ...overrides,
    },
  };
}

// YAML is a superset of JSON, so the test writes its config as JSON text.
const writeConfig = (c: object) => writeFile(configFile, JSON.stringify(c, null, 2));

beforeAll(async () => {
  nats = await startNats();
  for (const name of APPS) servers[name] = await startRecordingServer();
  closedPort = await freePort();
  configFile = path.join(await mkdtemp(path.join(tmpdir(), "herald-config-")), "herald.yaml");
  await writeConfig(config());
  const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace };
  const gateway = await startService("gateway", {
    ...env,
    HERALD_CONFIG: configFile,
    HERALD_CONFIG_POLL_MS: "100",
  });
  // The business servers are on loopback: local development's switch (before-hooks-ssrf.test.ts runs without).
  const evaluator = await startService("evaluator", { ...env, DELIVERY_ALLOW_LOOPBACK: "true" });
  services = [gateway, evaluator];
  await Promise.all(services.map((s) => s.waitReady()));
  client = heraldClient(gateway.grpcAddress);
});

afterAll(async () => {
  client?.close();
  await stopAll(services);
  await Promise.all(Object.values(servers).map((s) => s.close()));
  await nats?.stop();
});

beforeEach(() => {
  for (const s of Object.values(servers)) {
    s.clear();
    s.fallback({ status: 200, body: CONTINUE });
  }
});

const single = { sendID: "u1", recvID: "u2", contentType: 101, content: '{"content":"hi"}' };

describe("the business server decides", () => {
  it("continues, carrying the chat core's operationID to the HTTP header and body", async () => {
    const res = await before(client, {
      appId: "cont",
      command: "callbackBeforeSendSingleMsgCommand",
      operationId: "op-carried-1",
      payload: single,
    });
    expect(res).toMatchObject({
      decision: Decision.DECISION_CONTINUE,
      source: DecisionSource.DECISION_SOURCE_BUSINESS_SERVER,
      operationId: "op-carried-1",
    });
    const [req] = await servers.cont!.waitForRequests(1);
    expect(req?.method).toBe("POST");
    expect(req?.url).toBe("/callbackExample/callbackBeforeSendSingleMsgCommand?contenttype=json");
    expect(req?.headers["operationid"]).toBe("op-carried-1");
    expect(req?.headers["content-type"]).toBe("application/json");
    expect(req?.json()).toEqual({
      ...single,
      callbackCommand: "callbackBeforeSendSingleMsgCommand",
      operationID: "op-carried-1",
    });
  });

  it("makes an operationID when the chat core has none, and uses it on the wire", async () => {
    const res = await before(client, { appId: "cont", command: "beforeSendSingleMsg", payload: single });
    expect(res.operationId).not.toBe("");
    const [req] = await servers.cont!.waitForRequests(1);
    expect(req?.headers["operationid"]).toBe(res.operationId);
  });

  it("denies with the business server's errCode, errMsg and errDlt", async () => {
    servers.cont!.reply({
      body: { actionCode: 0, nextCode: 1, errCode: 5001, errMsg: "blocked", errDlt: "spam" },
    });
    const res = await before(client, {
      appId: "cont",
      command: "callbackBeforeSendSingleMsgCommand",
      payload: single,
    });
    expect(res).toMatchObject({
      decision: Decision.DECISION_DENY,
      errCode: 5001,
      errMsg: "blocked",
      errDlt: "spam",
      source: DecisionSource.DECISION_SOURCE_BUSINESS_SERVER,
    });
  });

  it("uses the query URL style and current OpenIM command names where the app says so", async () => {
    await before(client, {
      appId: "q",
      command: "callbackBeforePushCommand",
      payload: { userIDList: ["a"] },
    });
    const [req] = await servers.q!.waitForRequests(1);
    expect(req?.url).toBe("/callbackExample?command=callbackBeforeOfflinePushCommand&contenttype=json");
    expect(req?.json()).toMatchObject({ callbackCommand: "callbackBeforeOfflinePushCommand" });
  });
});

describe("BeforeStream", () => {
  it("answers each request by its id, and refuses a bad one without ending the stream", async () => {
    // The first request's answer comes last.
    servers.cont!.fallback((req) =>
      req.headers["operationid"] === "op-s1"
        ? { delayMs: 300, body: CONTINUE }
        : { body: { actionCode: 0, nextCode: 1, errCode: 5003, errMsg: "no" } },
    );
    const stream = beforeStream(client);
    const command = "callbackBeforeSendSingleMsgCommand";
    const [slow, denied, bad] = await Promise.all([
      stream.send({ appId: "cont", command, operationId: "op-s1", payload: single }),
      stream.send({ appId: "cont", command, operationId: "op-s2", payload: single }),
      stream.send({ appId: "cont", command: "no.such", payload: single }),
    ]);
    stream.end();
    expect(slow?.response).toMatchObject({ decision: Decision.DECISION_CONTINUE, operationId: "op-s1" });
    expect(denied?.response).toMatchObject({
      decision: Decision.DECISION_DENY,
      errCode: 5003,
      operationId: "op-s2",
    });
    expect(bad?.error).toMatchObject({ code: "INVALID_ARGUMENT", field: "command" });
    expect(bad?.response).toBeUndefined();
  });
});

describe("modifications reach the chat core", () => {
  const modify = async (command: string, payload: object, answer: object) => {
    servers.cont!.reply({ body: { ...CONTINUE, ...answer } });
    const res = await before(client, { appId: "cont", command, payload });
    expect(res.decision).toBe(Decision.DECISION_MODIFY);
    return JSON.parse(res.payloadJson) as Record<string, unknown>;
  };

  it("beforePush: userIDList and offlinePushInfo", async () => {
    const info = { title: "T", desc: "D", ex: "", iOSPushSound: "ding", iOSBadgeCount: true, signalInfo: "" };
    const out = await modify(
      "callbackBeforePushCommand",
      { userIDList: ["u1", "u2", "u3"], title: "old", desc: "old" },
      { userIDList: ["u1"], offlinePushInfo: info },
    );
    expect(out).toMatchObject({
      userIDList: ["u1"],
      title: "T",
      desc: "D",
      iOSPushSound: "ding",
      offlinePushInfo: info,
    });
    expect(servers.cont!.requests[0]?.url).toContain("/callbackBeforePushCommand?");
  });

  it("beforeGroupOnlinePush: userIDList", async () => {
    const out = await modify(
      "beforeGroupOnlinePush",
      { groupID: "g1", sendID: "u1" },
      { userIDList: ["u7", "u8"] },
    );
    expect(out).toMatchObject({ groupID: "g1", userIDList: ["u7", "u8"] });
  });

  it("beforeMsgModify: content fields", async () => {
    const out = await modify(
      "callbackBeforeMsgModifyCommand",
      { ...single, atUserList: [] },
      { content: '{"content":"***"}', atUserIDList: ["u9"] },
    );
    expect(out).toMatchObject({ content: '{"content":"***"}', atUserList: ["u9"], sendID: "u1" });
  });

  it("beforeUpdateUserInfo and beforeUpdateUserInfoEx: the user's fields", async () => {
    const user = { userID: "u1", nickName: "bob", faceURL: "http://f/1" };
    expect(await modify("callbackBeforeUpdateUserInfoCommand", user, { nickName: "Bob" })).toMatchObject({
      ...user,
      nickName: "Bob",
    });
    expect(
      await modify("callbackBeforeUpdateUserInfoExCommand", user, { faceURL: "http://f/2" }),
    ).toMatchObject({
      ...user,
      faceURL: "http://f/2",
    });
  });
});

describe("a failed callback: failedContinue decides", () => {
  const failed = async (appId: AppName) =>
    before(client, { appId, command: "callbackBeforeSendSingleMsgCommand", payload: single });

  it.each([
    ["a timeout", { hang: true } as const],
    ["a 500", { status: 500, body: CONTINUE }],
    ["a body that is not JSON", { status: 200, body: "<html>oops</html>" }],
    ["actionCode != 0", { status: 200, body: { ...CONTINUE, actionCode: 1 } }],
  ])("goes on after %s when failedContinue is true, and is denied when false", async (_what, reply) => {
    // A hang is met by the short timeout of the *Hang apps; every other failure answers at once.
    const [cont, strict] =
      "hang" in reply ? (["contHang", "strictHang"] as const) : (["cont", "strict"] as const);
    servers[cont]!.fallback(reply);
    servers[strict]!.fallback(reply);
    expect(await failed(cont)).toMatchObject({
      decision: Decision.DECISION_CONTINUE,
      source: DecisionSource.DECISION_SOURCE_CALLBACK_FAILED,
    });
    const denied = await failed(strict);
    expect(denied).toMatchObject({
      decision: Decision.DECISION_DENY,
      source: DecisionSource.DECISION_SOURCE_CALLBACK_FAILED,
    });
    expect([90004, 90007]).toContain(denied.errCode);
  });

  it("fails an answer that is not valid UTF-8 rather than passing on what it cannot read", async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"actionCode":0,"nextCode":0,"content":"hi'),
      Buffer.from([0xff]),
      Buffer.from('"}'),
    ]);
    servers.strict!.fallback({ status: 200, body: bytes });
    expect(await failed("strict")).toMatchObject({
      decision: Decision.DECISION_DENY,
      source: DecisionSource.DECISION_SOURCE_CALLBACK_FAILED,
      errCode: 90007,
      errDlt: "response is not valid UTF-8",
    });
  });

  it("is denied with Herald's network code when the connection is refused", async () => {
    const res = await before(client, {
      appId: "refused",
      command: "callbackBeforeSendSingleMsgCommand",
      payload: single,
    });
    expect(res).toMatchObject({ decision: Decision.DECISION_DENY, errCode: 90004 });
  });
});

describe("answers without a hop", () => {
  it("continues at once for a disabled hook, asking nobody", async () => {
    const res = await before(client, {
      appId: "cont",
      command: "callbackBeforeAddFriendCommand",
      payload: {},
    });
    expect(res).toMatchObject({
      decision: Decision.DECISION_CONTINUE,
      source: DecisionSource.DECISION_SOURCE_HOOK_DISABLED,
    });
    // An app configured nowhere is refused (unknown-apps.test.ts), not continued.
    await expect(
      before(client, { appId: "nobody", command: "beforeSendSingleMsg", payload: single }),
    ).rejects.toMatchObject({ code: 5 });
    expect(servers.cont!.requests).toHaveLength(0);
  });

  it("filters denied and not-allowed message types, and calls for the others", async () => {
    const call = (command: string, contentType: number) =>
      before(client, { appId: "filters", command, payload: { ...single, groupID: "g", contentType } });
    expect((await call("beforeSendSingleMsg", 102)).source).toBe(
      DecisionSource.DECISION_SOURCE_TYPE_FILTERED,
    );
    expect((await call("beforeSendSingleMsg", 115)).source).toBe(
      DecisionSource.DECISION_SOURCE_TYPE_FILTERED,
    );
    expect((await call("beforeSendGroupMsg", 102)).source).toBe(DecisionSource.DECISION_SOURCE_TYPE_FILTERED);
    expect(servers.filters!.requests).toHaveLength(0);
    expect((await call("beforeSendSingleMsg", 101)).source).toBe(
      DecisionSource.DECISION_SOURCE_BUSINESS_SERVER,
    );
    expect((await call("beforeSendGroupMsg", 101)).source).toBe(
      DecisionSource.DECISION_SOURCE_BUSINESS_SERVER,
    );
    expect(servers.filters!.requests).toHaveLength(2);
  });

  it("refuses an unknown command and an after-hook command with INVALID_ARGUMENT", async () => {
    await expect(
      before(client, { appId: "cont", command: "callbackNoSuchCommand", payload: {} }),
    ).rejects.toMatchObject({
      code: 3,
    });
    await expect(
      before(client, { appId: "cont", command: "callbackAfterSendSingleMsgCommand", payload: {} }),
    ).rejects.toMatchObject({ code: 3 });
  });
});

describe("the breaker", () => {
  it("opens after repeated failures, fails fast without calling, then probes and closes", async () => {
    const call = () => before(client, { appId: "brk", command: "beforeSendSingleMsg", payload: single });
    servers.brk!.fallback({ hang: true });
    expect((await call()).source).toBe(DecisionSource.DECISION_SOURCE_CALLBACK_FAILED);
    expect((await call()).source).toBe(DecisionSource.DECISION_SOURCE_CALLBACK_FAILED);
    await servers.brk!.waitForRequests(2);

    const fast = await call();
    expect(fast).toMatchObject({
      decision: Decision.DECISION_CONTINUE,
      source: DecisionSource.DECISION_SOURCE_BREAKER_OPEN,
    });
    expect(servers.brk!.requests).toHaveLength(2);

    servers.brk!.fallback({ status: 200, body: CONTINUE });
    await waitFor(async () => (await call()).source === DecisionSource.DECISION_SOURCE_BUSINESS_SERVER, {
      timeoutMs: 10_000,
      what: "the breaker to let a probe through",
    });
    expect((await call()).source).toBe(DecisionSource.DECISION_SOURCE_BUSINESS_SERVER);
  });
});

describe("configuration", () => {
  it("takes a change to the config file without a restart", async () => {
    const call = () =>
      before(client, { appId: "cont", command: "beforeAddFriend", payload: { fromUserID: "a" } });
    expect((await call()).source).toBe(DecisionSource.DECISION_SOURCE_HOOK_DISABLED);
    const changed = config({
      cont: {
        openim: {
          url: `${servers.cont?.url}/callbackExample`,
          webhooks: { ...webhooks(true), beforeAddFriend: { enable: true, timeout: ANSWERED_TIMEOUT_S } },
        },
      },
    });
    await writeConfig(changed);
    await waitFor(async () => (await call()).source === DecisionSource.DECISION_SOURCE_BUSINESS_SERVER, {
      timeoutMs: 15_000,
      what: "the enabled hook to take effect",
    });
    await writeConfig(config());
    await waitFor(async () => (await call()).source === DecisionSource.DECISION_SOURCE_HOOK_DISABLED, {
      timeoutMs: 15_000,
      what: "the disabled hook to take effect",
    });
  });
});

describe("the record of every evaluation", () => {
  it("is on ATTEMPTS with app, hook, operation id, URL, status, latency and outcome", async () => {
    servers.cont!.reply({ body: { actionCode: 0, nextCode: 1, errCode: 5002, errMsg: "no" } });
    await before(client, {
      appId: "cont",
      command: "beforeSendSingleMsg",
      operationId: "op-recorded",
      payload: single,
    });
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      const stream = busNames(nats.namespace).streams.attempts;
      const record = await waitFor(
        async () => {
          const { state } = await jsm.streams.info(stream);
          for (let seq = state.last_seq; seq >= state.first_seq && state.messages > 0; seq--) {
            const msg = await jsm.streams.getMessage(stream, { seq });
            const records = msg === null ? [] : (decodeAttemptRecords(msg.data) as Record<string, unknown>[]);
            const r = records.find((record) => record["operationId"] === "op-recorded");
            if (r !== undefined) return r;
          }
          return undefined;
        },
        { what: "the attempt record" },
      );
      expect(record).toMatchObject({
        kind: "before",
        appId: "cont",
        hook: "beforeSendSingleMsg",
        url: `${servers.cont!.url}/callbackExample/callbackBeforeSendSingleMsgCommand?contenttype=json`,
        status: 200,
        outcome: "deny",
      });
      expect(typeof record["latencyMs"]).toBe("number");
    } finally {
      await nc.close();
    }
  });
});

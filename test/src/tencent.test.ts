import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  Decision,
  DecisionSource,
  OfflineReason,
  type DeepPartial,
  type Event,
  type HeraldServiceClient,
} from "@herald/proto";
import { SignatureError, parseTencent, verifyTencent } from "@herald/receiver";
import {
  startNats,
  startRecordingServer,
  waitFor,
  type NatsFixture,
  type RecordingServer,
} from "@herald/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { busNames, type AttemptRecord } from "@herald/bus";
import { storedAttemptRecords } from "./stream-contents.js";
import { startService, stopAll, type ServiceProcess } from "./harness.js";
import { before, heraldClient, publish } from "./grpc-client.js";

// Tencent Cloud IM through real processes: the gateway reads the app's `tencent` block from its YAML file,
// the deliverer sends Tencent's after-callbacks to an endpoint of dialect tencent, and the evaluator asks
// the business server Tencent's before-callbacks. Business servers check what arrives with @herald/receiver.

const SDK_APP_ID = "1400000001";
const TOKEN = "tok-腾讯-1";
const USER = "用户🙂";
const WAIT = { timeoutMs: 20_000 };
const OK = { ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "" };

let nats: NatsFixture;
let nc: NatsConnection;
let services: ServiceProcess[] = [];
let client: HeraldServiceClient;
let afterServer: RecordingServer;
let retryServer: RecordingServer;
let beforeServer: RecordingServer;

function config() {
  // In the file, endpoints are a mapping of id to fields.
  const endpoints = (server: RecordingServer) => ({
    after: { url: `${server.url}/im`, dialect: "tencent", tencent: { sdkAppId: SDK_APP_ID, token: TOKEN } },
  });
  return {
    apps: {
      tc: {
        tencent: {
          url: `${beforeServer.url}/im`,
          sdkAppId: Number(SDK_APP_ID),
          token: TOKEN,
          hooks: {
            "C2C.CallbackBeforeSendMsg": { enable: true },
            "Group.CallbackBeforeSendMsg": { enable: true, timeoutMs: 300 },
          },
        },
        endpoints: endpoints(afterServer),
      },
      "tc-retry": { endpoints: endpoints(retryServer) },
    },
  };
}

beforeAll(async () => {
  nats = await startNats();
  [afterServer, retryServer, beforeServer] = await Promise.all([
    startRecordingServer(),
    startRecordingServer(),
    startRecordingServer(),
  ]);
  const configFile = path.join(await mkdtemp(path.join(tmpdir(), "herald-tencent-")), "herald.yaml");
  // YAML is a superset of JSON.
  await writeFile(configFile, JSON.stringify(config(), null, 2));
  const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace, DELIVERY_ALLOW_LOOPBACK: "true" };
  // The gateway stores the file's apps before it is ready; the others read them when they start.
  const gateway = await startService("gateway", { ...env, HERALD_CONFIG: configFile });
  services = [gateway];
  await gateway.waitReady();
  const others = await Promise.all(
    (["evaluator", "deliverer", "chatroom"] as const).map((name) => startService(name, env)),
  );
  services.push(...others);
  await Promise.all(others.map((s) => s.waitReady()));
  client = heraldClient(gateway.grpcAddress);
  nc = await connect({ servers: nats.url });
}, 180_000);

afterAll(async () => {
  client?.close();
  await nc?.close();
  await stopAll(services);
  await Promise.all([afterServer, retryServer, beforeServer].map((s) => s?.close()));
  await nats?.stop();
});

/** Waits until ATTEMPTS holds records of `appId` that `done` accepts, and returns them, oldest first. */
async function attempts(
  appId: string,
  done: (records: AttemptRecord[]) => boolean,
): Promise<AttemptRecord[]> {
  const stream = busNames(nats.namespace).streams.attempts;
  let records: AttemptRecord[] = [];
  await waitFor(
    async () => {
      records = (await storedAttemptRecords(nc, stream)).filter((record) => record.appId === appId);
      return done(records);
    },
    { ...WAIT, what: `attempt records of ${appId}` },
  );
  return records;
}

let n = 0;
function event(appId: string, payload: DeepPartial<Event>["payload"], at: number): DeepPartial<Event> {
  n += 1;
  return {
    id: `tc-${process.pid}-${n}`,
    appId,
    operationId: `op-tc-${n}`,
    occurredAt: new Date(at),
    payload,
  };
}

/** Checks the query as a Tencent receiver must (SdkAppid, Sign, freshness) and returns its facts. */
function verified(url: string) {
  const facts = verifyTencent({ url, sdkAppId: SDK_APP_ID, token: TOKEN });
  expect(() => verifyTencent({ url, sdkAppId: SDK_APP_ID, token: "another-token" })).toThrow(SignatureError);
  expect(() => verifyTencent({ url, sdkAppId: "1400000002", token: TOKEN })).toThrow(SignatureError);
  return facts;
}

describe("tencent after-callbacks", () => {
  beforeEach(() => afterServer.clear());

  it("sends State.StateChange per connection login and logout, signed, with Tencent's query", async () => {
    const online = event(
      "tc",
      {
        $case: "connectionOnline",
        value: {
          userId: USER,
          connId: "c-1",
          platformId: 1,
          platform: "iOS",
          clientIp: "198.51.100.7",
          nodeId: "n",
        },
      },
      1_700_000_001_000,
    );
    const offline = event(
      "tc",
      {
        $case: "connectionOffline",
        value: {
          userId: USER,
          connId: "c-1",
          platformId: 1,
          reason: OfflineReason.OFFLINE_REASON_TIMEOUT,
          nodeId: "n",
        },
      },
      1_700_000_002_000,
    );
    await publish(client, [online]);
    const [login] = await afterServer.waitForRequests(1, WAIT);
    await publish(client, [offline]);
    const logout = (await afterServer.waitForRequests(2, WAIT))[1];

    expect(login?.method).toBe("POST");
    expect(login?.path).toBe("/im");
    expect(login?.url).toMatch(
      /^\/im\?SdkAppid=1400000001&CallbackCommand=State\.StateChange&contenttype=json&ClientIP=198\.51\.100\.7&OptPlatform=iOS&Sign=[0-9a-f]{64}&RequestTime=\d+$/,
    );
    expect(verified(login!.url)).toMatchObject({
      command: "State.StateChange",
      clientIp: "198.51.100.7",
      optPlatform: "iOS",
    });
    expect(login?.text).toBe(
      `{"CallbackCommand":"State.StateChange","EventTime":1700000001000,"Info":{"Action":"Login","To_Account":"${USER}","Reason":"Register"}}`,
    );
    expect(parseTencent(logout!.text, verified(logout!.url).command)).toStrictEqual({
      CallbackCommand: "State.StateChange",
      EventTime: 1_700_000_002_000,
      Info: { Action: "Disconnect", To_Account: USER, Reason: "TimeOut" },
    });
  });

  it("sends C2C.CallbackAfterSendMsg for a message to a user", async () => {
    await publish(client, [
      event(
        "tc",
        {
          $case: "messageSent",
          value: {
            messageId: "srv-1",
            fromUserId: USER,
            toUserId: "u2",
            contentType: 101,
            content: '{"content":"你好"}',
            seq: 7,
            senderPlatformId: 2,
            sentAt: new Date(1_700_000_003_000),
          },
        },
        1_700_000_003_100,
      ),
    ]);
    const [req] = await afterServer.waitForRequests(1, WAIT);
    expect(verified(req!.url)).toMatchObject({ command: "C2C.CallbackAfterSendMsg", optPlatform: "Android" });
    expect(parseTencent(req!.text, "C2C.CallbackAfterSendMsg")).toMatchObject({
      From_Account: USER,
      To_Account: "u2",
      MsgSeq: 7,
      MsgTime: 1_700_000_003,
      MsgId: "srv-1",
      MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "你好" } }],
      EventTime: 1_700_000_003_100,
    });
  });

  it("sends Group.CallbackAfterNewMemberJoin for a room join, and nothing for the room's creation", async () => {
    await publish(client, [
      event("tc", { $case: "roomCreated", value: { roomId: "room-1" } }, 1_700_000_004_000),
    ]);
    await publish(client, [
      event("tc", { $case: "roomJoined", value: { roomId: "room-1", userIds: [USER] } }, 1_700_000_005_000),
    ]);
    const [req] = await afterServer.waitForRequests(1, WAIT);
    expect(verified(req!.url)).toMatchObject({
      command: "Group.CallbackAfterNewMemberJoin",
      optPlatform: "Unknown",
    });
    expect(req?.text).toBe(
      `{"CallbackCommand":"Group.CallbackAfterNewMemberJoin","GroupId":"room-1","JoinType":"Apply","Operator_Account":"${USER}","NewMemberList":[{"Member_Account":"${USER}"}],"EventTime":1700000005000}`,
    );
  });

  it("retries a 200 whose ErrorCode is not 0, then delivers the same callback", async () => {
    retryServer.reply({ status: 200, body: { ActionStatus: "FAIL", ErrorCode: 1, ErrorInfo: "busy" } });
    retryServer.fallback({ status: 200, body: OK });
    await publish(client, [
      event(
        "tc-retry",
        { $case: "connectionOnline", value: { userId: "u-r", connId: "c-r", platformId: 5, nodeId: "n" } },
        1_700_000_006_000,
      ),
    ]);
    const [first, second] = await retryServer.waitForRequests(2, WAIT);
    expect(second?.text).toBe(first?.text);
    expect(second?.headers["herald-delivery-id"]).toBe(first?.headers["herald-delivery-id"]);
    for (const req of [first!, second!]) expect(verified(req.url).optPlatform).toBe("Web");
    const [refused, delivered] = await attempts("tc-retry", (r) => r.length >= 2);
    expect(refused).toMatchObject({ attempt: 1, status: 200, dialect: "tencent" });
    expect(refused?.error).toContain("ErrorCode 1 (FAIL): busy");
    expect(delivered).toMatchObject({ attempt: 2, status: 200, error: "" });
    // Delivered: no third attempt comes once the answer is ErrorCode 0.
    await publish(client, [
      event(
        "tc-retry",
        { $case: "connectionOffline", value: { userId: "u-r", connId: "c-r", platformId: 5, nodeId: "n" } },
        1_700_000_007_000,
      ),
    ]);
    const third = (await retryServer.waitForRequests(3, WAIT))[2];
    expect(parseTencent(third!.text)).toMatchObject({ Info: { Action: "Disconnect", Reason: "LinkClose" } });
  });
});

describe("tencent before-callbacks over gRPC", () => {
  const c2c = {
    From_Account: USER,
    To_Account: "u2",
    MsgSeq: 48374,
    MsgRandom: 2837546,
    MsgTime: 1557481126,
    MsgKey: "48374_2837546_1557481126",
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "red packet" } }],
  };
  const ask = (command: string, payload: object = c2c) => before(client, { appId: "tc", command, payload });

  beforeEach(() => {
    beforeServer.clear();
    beforeServer.fallback({ status: 200, body: OK });
  });

  it("ErrorCode 0 allows; the request is Tencent's, signed, its ClientIP and OptPlatform in the URL", async () => {
    const res = await ask("C2C.CallbackBeforeSendMsg", {
      ...c2c,
      ClientIP: "203.0.113.9",
      OptPlatform: "Android",
    });
    expect(res).toMatchObject({
      decision: Decision.DECISION_CONTINUE,
      source: DecisionSource.DECISION_SOURCE_BUSINESS_SERVER,
    });
    const [req] = await beforeServer.waitForRequests(1);
    expect(verified(req!.url)).toMatchObject({
      command: "C2C.CallbackBeforeSendMsg",
      clientIp: "203.0.113.9",
      optPlatform: "Android",
    });
    expect(req?.json()).toStrictEqual({ CallbackCommand: "C2C.CallbackBeforeSendMsg", ...c2c });
  });

  it("ErrorCode 1 denies, 2 drops silently, 120005 denies passing its code and ErrorInfo", async () => {
    beforeServer.reply(
      { body: { ActionStatus: "OK", ErrorCode: 1, ErrorInfo: "blocked" } },
      { body: { ActionStatus: "OK", ErrorCode: 2, ErrorInfo: "" } },
      { body: { ActionStatus: "OK", ErrorCode: 120005, ErrorInfo: "敏感词" } },
    );
    const denied = await ask("C2C.CallbackBeforeSendMsg");
    const dropped = await ask("C2C.CallbackBeforeSendMsg");
    const passed = await ask("C2C.CallbackBeforeSendMsg");
    expect(denied).toMatchObject({ decision: Decision.DECISION_DENY, errCode: 20006, errMsg: "blocked" });
    expect(dropped).toMatchObject({
      decision: Decision.DECISION_DROP,
      errCode: 0,
      source: DecisionSource.DECISION_SOURCE_BUSINESS_SERVER,
    });
    expect(passed).toMatchObject({ decision: Decision.DECISION_DENY, errCode: 120005, errMsg: "敏感词" });
    const outcomes = await attempts("tc", (r) => r.filter((a) => a.kind === "before").length >= 4);
    expect(outcomes.filter((a) => a.kind === "before").map((a) => a.outcome)).toEqual(
      expect.arrayContaining(["deny", "drop"]),
    );
  });

  it("ErrorCode 0 with a MsgBody is a modification of the request payload", async () => {
    const replaced = [{ MsgType: "TIMTextElem", MsgContent: { Text: "***" } }];
    beforeServer.reply({ body: { ...OK, MsgBody: replaced } });
    const res = await ask("C2C.CallbackBeforeSendMsg");
    expect(res.decision).toBe(Decision.DECISION_MODIFY);
    expect(JSON.parse(res.payloadJson)).toStrictEqual({ ...c2c, MsgBody: replaced });
  });

  it("a group callback that does not answer within its timeout fails open, as Tencent does", async () => {
    beforeServer.reply({ delayMs: 3_000, body: { ...OK, ErrorCode: 1 } });
    const res = await ask("Group.CallbackBeforeSendMsg", {
      GroupId: "g1",
      From_Account: USER,
      MsgBody: c2c.MsgBody,
    });
    expect(res).toMatchObject({
      decision: Decision.DECISION_CONTINUE,
      source: DecisionSource.DECISION_SOURCE_CALLBACK_FAILED,
    });
    await waitFor(() => beforeServer.requests.length === 1, { timeoutMs: 5_000, what: "the group callback" });
    expect(verified(beforeServer.requests[0]!.url).command).toBe("Group.CallbackBeforeSendMsg");
  });

  it("refuses an after-command in Before, and knows no command outside the dialects", async () => {
    const refused = async (command: string) => {
      const err = (await ask(command).catch((e: unknown) => e)) as ServiceError;
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.metadata.get("herald-field")).toEqual(["command"]);
      return err.details;
    };
    expect(await refused("C2C.CallbackAfterSendMsg")).toContain("is an after-hook");
    expect(await refused("C2C.NoSuchCallback")).toContain("not a callback command");
  });
});

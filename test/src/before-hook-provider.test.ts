import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { busNames } from "@herald/bus";
import { Decision, DecisionSource, type BeforeResponse, type HeraldServiceClient } from "@herald/proto";
import {
  openImAnswer,
  serveHookProvider,
  type HookProviderAnswer,
  type HookProviderCall,
  type HookProviderServer,
} from "@herald/receiver";
import {
  freePort,
  startNats,
  startRecordingServer,
  waitFor,
  type NatsFixture,
  type RecordingServer,
} from "@herald/testkit";
import { startService, stopAll, type ServiceProcess } from "./harness.js";
import { storedAttemptRecords } from "./stream-contents.js";
import { before, heraldClient } from "./grpc-client.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const tsx = path.join(root, "node_modules/tsx/dist/esm/index.mjs");

let nats: NatsFixture;
let gateway: ServiceProcess;
let configFile: string;
let evaluators: ServiceProcess[] = [];
let client: HeraldServiceClient;
// The HTTP business server of app "http", and the URL of app "grpc", which must never be called.
let httpServer: RecordingServer;
let strayServer: RecordingServer;
let provider: HookProviderServer;
let providerCalls: HookProviderCall[] = [];
let providerAnswer: (call: HookProviderCall) => HookProviderAnswer | Promise<HookProviderAnswer>;
// Ports of the provider processes that tests kill; fixed, so that a restarted one comes back there.
let singlePort: number;
let pairPort: number;
const children: ChildProcess[] = [];

const hook = (extra: object = {}) => ({ enable: true, timeout: 5, failedContinue: false, ...extra });
const hooks = (extra: object = {}) => ({ beforeSendSingleMsg: hook(extra), beforeOfflinePush: hook(extra) });
const target = (port: number) => `grpc://127.0.0.1:${port}`;

beforeAll(async () => {
  nats = await startNats();
  httpServer = await startRecordingServer();
  strayServer = await startRecordingServer();
  provider = await serveHookProvider({
    host: "127.0.0.1",
    decide: (call) => {
      providerCalls.push(call);
      return providerAnswer(call);
    },
  });
  [singlePort, pairPort] = [await freePort(), await freePort()];
  const file = path.join(await mkdtemp(path.join(tmpdir(), "herald-provider-")), "herald.yaml");
  configFile = file;
  const openim = (extra: object) => ({ url: `${strayServer.url}/cb`, webhooks: hooks(), ...extra });
  await writeFile(
    file,
    JSON.stringify({
      apps: {
        http: { openim: { url: `${httpServer.url}/cb`, webhooks: hooks() } },
        grpc: { openim: openim({ provider: { targets: [target(provider.port)] } }) },
        single: { openim: openim({ provider: { targets: [target(singlePort)] } }) },
        pair: {
          openim: openim({
            provider: { targets: [target(pairPort), target(provider.port)] },
            webhooks: hooks({ maxRetries: 1 }),
          }),
        },
      },
    }),
  );
  const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace };
  gateway = await startService("gateway", { ...env, HERALD_CONFIG: file });
  // The business servers and providers are on loopback: local development's switch.
  const local = { ...env, DELIVERY_ALLOW_LOOPBACK: "true" };
  evaluators = await Promise.all([startService("evaluator", local), startService("evaluator", local)]);
  await Promise.all([gateway, ...evaluators].map((s) => s.waitReady()));
  client = heraldClient(gateway.grpcAddress);
});

afterAll(async () => {
  client?.close();
  for (const child of children) child.kill("SIGKILL");
  await stopAll([gateway, ...evaluators].filter(Boolean));
  await provider?.close();
  await Promise.all([httpServer, strayServer].map((s) => s?.close()));
  await nats?.stop();
});

beforeEach(() => {
  httpServer.clear();
  strayServer.clear();
  providerCalls = [];
  providerAnswer = () => openImAnswer.allow();
});

/** A provider in its own process on `port`; `calls` collects the operation ids it was asked about. */
async function startProviderProcess(port: number) {
  const child = spawn(
    process.execPath,
    ["--conditions=@herald/source", "--import", tsx, path.join(root, "test/src/hook-provider-process.ts")],
    {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.push(child);
  const calls: string[] = [];
  let listening = false;
  child.stdout?.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) {
      const message = JSON.parse(line) as { port?: number; call?: string };
      if (message.port !== undefined) listening = true;
      if (message.call !== undefined) calls.push(message.call);
    }
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  await waitFor(() => listening, { timeoutMs: 30_000, what: `the provider process on ${port}` });
  return { child, calls, exited };
}

const sendSingle = (appId: string, operationId: string, payload: object = {}) =>
  before(client, {
    appId,
    command: "callbackBeforeSendSingleMsgCommand",
    operationId,
    payload: { sendID: "u1", recvID: "u2", contentType: 101, content: '{"content":"hi"}', ...payload },
  });

/** What the evaluators logged about the failed call of `operationId`. */
function failureLogged(operationId: string): string | undefined {
  for (const line of evaluators.flatMap((e) => e.lines)) {
    if (!line.includes("before-hook callback failed")) continue;
    const entry = JSON.parse(line) as { operationID?: string; error?: string };
    if (entry.operationID === operationId) return entry.error;
  }
  return undefined;
}

const withoutOperation = ({ operationId: _, ...rest }: BeforeResponse) => rest;

describe("a provider decides as the business server's URL would", () => {
  // Asks the same hook of the HTTP app and of the provider app, the same answer body behind each.
  async function both(command: string, payload: object, answer: string | Record<string, unknown>) {
    httpServer.reply({ body: answer });
    providerAnswer = () => ({ body: answer });
    const http = await before(client, { appId: "http", command, operationId: "op-http", payload });
    const grpc = await before(client, { appId: "grpc", command, operationId: "op-grpc", payload });
    const [sent] = await httpServer.waitForRequests(1);
    expect(providerCalls).toHaveLength(1);
    const call = providerCalls[0] as HookProviderCall;
    // The body HTTP posted, byte for byte (but for the operation id each call carries).
    expect(call.body).toBe(sent?.text.replace("op-http", "op-grpc"));
    expect(call).toMatchObject({ appId: "grpc", dialect: "openim", command, operationId: "op-grpc" });
    expect(call.deadlineMs).toBeGreaterThan(0);
    expect(strayServer.requests).toEqual([]);
    expect(withoutOperation(grpc)).toEqual(withoutOperation(http));
    return grpc;
  }

  it("allows", async () => {
    const res = await both(
      "callbackBeforeSendSingleMsgCommand",
      { sendID: "u1", recvID: "u2", contentType: 101 },
      { actionCode: 0, nextCode: 0, errCode: 0, errMsg: "", errDlt: "" },
    );
    expect(res).toMatchObject({
      decision: Decision.DECISION_CONTINUE,
      source: DecisionSource.DECISION_SOURCE_BUSINESS_SERVER,
    });
    expect(providerCalls[0]?.hook).toBe("beforeSendSingleMsg");
  });

  it("records the call under the provider target that answered it", async () => {
    await sendSingle("grpc", "op-grpc-recorded");
    const stream = busNames(nats.namespace).streams.attempts;
    const nc = await connect({ servers: nats.url });
    try {
      const record = await waitFor(
        async () =>
          (await storedAttemptRecords(nc, stream)).find((r) => r.operationId === "op-grpc-recorded"),
        { what: "the attempt record of the provider call" },
      );
      expect(record).toMatchObject({
        kind: "before",
        appId: "grpc",
        url: target(provider.port),
        status: 200,
      });
    } finally {
      await nc.close();
    }
  });

  it("denies with the provider's errCode, errMsg and errDlt", async () => {
    const res = await both(
      "callbackBeforeSendSingleMsgCommand",
      { sendID: "u1", recvID: "u2", contentType: 101 },
      openImAnswer.deny(5001, "blocked", "spam").body,
    );
    expect(res).toMatchObject({ decision: Decision.DECISION_DENY, errCode: 5001, errMsg: "blocked" });
  });

  it("modifies: the chat core gets the same payload", async () => {
    const info = { title: "T", desc: "D", ex: "", iOSPushSound: "ding", iOSBadgeCount: true, signalInfo: "" };
    const res = await both(
      "callbackBeforePushCommand",
      { userIDList: ["u1", "u2", "u3"], title: "old", desc: "old" },
      openImAnswer.allow({ userIDList: ["u1"], offlinePushInfo: info }).body,
    );
    expect(res.decision).toBe(Decision.DECISION_MODIFY);
    expect(JSON.parse(res.payloadJson)).toMatchObject({ userIDList: ["u1"], offlinePushInfo: info });
  });

  it("a 503 with a body that is no answer fails the same way under the same policy", async () => {
    httpServer.reply({ status: 503, body: "busy" });
    providerAnswer = () => ({ status: 503, body: "busy" });
    const command = "callbackBeforeSendSingleMsgCommand";
    const payload = { sendID: "u1", recvID: "u2", contentType: 101 };
    const http = await before(client, { appId: "http", command, operationId: "op-http-503", payload });
    const grpc = await before(client, { appId: "grpc", command, operationId: "op-grpc-503", payload });
    expect(withoutOperation(grpc)).toEqual(withoutOperation(http));
    expect(grpc).toMatchObject({
      decision: Decision.DECISION_DENY,
      source: DecisionSource.DECISION_SOURCE_CALLBACK_FAILED,
    });
    const logged = (op: string) => waitFor(() => failureLogged(op), { what: `the failure log of ${op}` });
    expect(await logged("op-grpc-503")).toBe(await logged("op-http-503"));
  });
});

it("is asked by a gateway that evaluates in its own process (BEFORE_EVALUATION=local)", async () => {
  const local = await startService("gateway", {
    NATS_URL: nats.url,
    HERALD_NAMESPACE: nats.namespace,
    HERALD_CONFIG: configFile,
    BEFORE_EVALUATION: "local",
    DELIVERY_ALLOW_LOOPBACK: "true",
  });
  const localClient = heraldClient(local.grpcAddress);
  try {
    await local.waitReady();
    providerAnswer = () => openImAnswer.deny(5002, "from the provider");
    const res = await before(localClient, {
      appId: "grpc",
      command: "callbackBeforeSendSingleMsgCommand",
      operationId: "op-local",
      payload: { sendID: "u1", recvID: "u2", contentType: 101 },
    });
    expect(res).toMatchObject({ decision: Decision.DECISION_DENY, errCode: 5002 });
    expect(providerCalls.map((c) => c.operationId)).toEqual(["op-local"]);
  } finally {
    localClient.close();
    await stopAll([local]);
  }
});

describe("a provider that dies", () => {
  it("fails the held call at once under failedAction, and is used again once back", async () => {
    const first = await startProviderProcess(singlePort);
    const held = sendSingle("single", "op-held", { hold: true });
    await waitFor(() => first.calls.includes("op-held"), { what: "the provider to hold the call" });
    first.child.kill("SIGKILL");
    await first.exited;

    const res = await held;
    expect(res).toMatchObject({
      decision: Decision.DECISION_DENY,
      source: DecisionSource.DECISION_SOURCE_CALLBACK_FAILED,
    });
    // Failed because the stream broke, not because the 5 s timeout ran out.
    const error = await waitFor(() => failureLogged("op-held"), { what: "the evaluator's failure log" });
    expect(error).toMatch(/^network: provider grpc:\/\/127\.0\.0\.1:\d+: the stream broke/);

    // Back on the same port: the evaluators reopen their streams and use it again.
    const second = await startProviderProcess(singlePort);
    let n = 0;
    const answered = await waitFor(
      async () => {
        const r = await sendSingle("single", `op-back-${n++}`);
        return r.source === DecisionSource.DECISION_SOURCE_BUSINESS_SERVER ? r : undefined;
      },
      { timeoutMs: 20_000, what: "a call answered by the restarted provider" },
    );
    expect(second.calls).toContain(answered.operationId);
  });

  it("skips a target whose stream is down: the other target answers", async () => {
    const dying = await startProviderProcess(pairPort);
    // Both targets take calls while both are up.
    let n = 0;
    await waitFor(
      async () => {
        await sendSingle("pair", `op-pair-${n++}`);
        return dying.calls.length > 0 && providerCalls.length > 0;
      },
      { what: "calls on both targets" },
    );

    dying.child.kill("SIGKILL");
    await dying.exited;
    const ok = DecisionSource.DECISION_SOURCE_BUSINESS_SERVER;
    await waitFor(async () => (await sendSingle("pair", `op-probe-${n++}`)).source === ok, {
      what: "a call after the kill",
    });
    providerCalls = [];
    const results = [];
    for (let i = 0; i < 10; i++) results.push(await sendSingle("pair", `op-after-${i}`));
    expect(results.map((r) => r.source)).toEqual(
      results.map(() => DecisionSource.DECISION_SOURCE_BUSINESS_SERVER),
    );
    expect(providerCalls.map((c) => c.operationId)).toEqual(results.map((r) => r.operationId));
  });

  it("answers a call held by a target that dies from the other target when maxRetries >= 1", async () => {
    const dying = await startProviderProcess(pairPort);
    // Held calls until one is in the dying target's hands (the other target answers its share at once).
    const calls: Promise<BeforeResponse>[] = [];
    await waitFor(
      () => {
        calls.push(sendSingle("pair", `op-retry-${calls.length}`, { hold: true }));
        return dying.calls.length > 0;
      },
      { what: "the dying target to hold a call" },
    );
    dying.child.kill("SIGKILL");
    await dying.exited;
    const results = await Promise.all(calls);
    expect(results.map((r) => r.source)).toEqual(
      results.map(() => DecisionSource.DECISION_SOURCE_BUSINESS_SERVER),
    );
    // What the dying target held was answered by the other one.
    expect(providerCalls.map((c) => c.operationId)).toEqual(expect.arrayContaining(dying.calls));
  });
});

describe("an evaluator that dies", () => {
  it("loses no provider call: the gateway asks the other evaluator", async () => {
    // Slow enough that calls are in the evaluators' hands when one of them is killed.
    providerAnswer = async () => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      return openImAnswer.allow();
    };
    const results: BeforeResponse[] = [];
    let stop = false;
    const loops = Array.from({ length: 8 }, async (_, i) => {
      for (let n = 0; !stop; n++) results.push(await sendSingle("grpc", `op-ev${i}-${n}`));
    });
    await waitFor(() => results.length >= 24, { timeoutMs: 30_000, what: "24 answered calls" });
    const victim = evaluators[0] as ServiceProcess;
    victim.child.kill("SIGKILL");
    await victim.exited;
    const atKill = results.length;
    await waitFor(() => results.length >= atKill + 40, {
      timeoutMs: 30_000,
      what: "40 calls after the kill",
    });
    stop = true;
    await Promise.all(loops);
    expect(results.filter((r) => r.source !== DecisionSource.DECISION_SOURCE_BUSINESS_SERVER)).toEqual([]);
    const seen = new Set(providerCalls.map((c) => c.operationId));
    expect(results.every((r) => seen.has(r.operationId))).toBe(true);
  });
});

import { writeFile, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Decision, DecisionSource, type HeraldServiceClient } from "@herald/proto";
import { busNames, type AttemptRecord } from "@herald/bus";
import { storedAttemptRecords } from "./stream-contents.js";
import {
  startNats,
  startRecordingServer,
  waitFor,
  type NatsFixture,
  type RecordingServer,
} from "@herald/testkit";
import { openImAnswer, serveHookProvider, type HookProviderServer } from "@herald/receiver";
import { startService, stopAll, type ServiceProcess } from "./harness.js";
import { before, heraldClient } from "./grpc-client.js";

// An evaluator as production runs it (no DELIVERY_ALLOW_LOOPBACK): a before-hook URL whose host is, or
// resolves to, a loopback address is refused at connect time unless the app allows private destinations.

let nats: NatsFixture;
let nc: NatsConnection;
let server: RecordingServer;
let services: ServiceProcess[] = [];
let client: HeraldServiceClient;
let provider: HookProviderServer;
const providerCalls: string[] = [];

const hook = (failedContinue: boolean) => ({
  beforeSendSingleMsg: { enable: true, timeout: 2, failedContinue },
});
// Loopback spelled three ways: a name, an IPv4-mapped IPv6 literal, and a decimal IPv4 literal (and a
// gRPC hook provider named by a name that resolves there, app deny-provider).
const refusedUrls = (port: number) => ({
  byname: `http://localhost:${port}/cb`,
  mapped: `http://[::ffff:127.0.0.1]:${port}/cb`,
  decimal: `http://2130706433:${port}/cb`,
});

beforeAll(async () => {
  nats = await startNats();
  server = await startRecordingServer();
  server.fallback({ status: 200, body: { actionCode: 0, errCode: 0, nextCode: 0 } });
  provider = await serveHookProvider({
    host: "127.0.0.1",
    decide: (call) => {
      providerCalls.push(call.appId);
      return openImAnswer.allow();
    },
  });
  const apps: Record<string, unknown> = {};
  // A gRPC hook provider on loopback, named by a name that resolves there: refused the same way.
  const viaProvider = { targets: [`grpc://localhost:${provider.port}`] };
  apps["deny-provider"] = {
    openim: { url: refusedUrls(server.port).byname, webhooks: hook(false), provider: viaProvider },
  };
  apps["provider-allowed"] = {
    allowPrivateDestinations: true,
    openim: { url: refusedUrls(server.port).byname, webhooks: hook(false), provider: viaProvider },
  };
  for (const [name, url] of Object.entries(refusedUrls(server.port))) {
    apps[`deny-${name}`] = { openim: { url, webhooks: hook(false) } };
  }
  apps["cont-byname"] = { openim: { url: refusedUrls(server.port).byname, webhooks: hook(true) } };
  apps["allowed"] = {
    allowPrivateDestinations: true,
    openim: { url: refusedUrls(server.port).byname, webhooks: hook(false) },
  };
  const file = path.join(await mkdtemp(path.join(tmpdir(), "herald-ssrf-")), "herald.yaml");
  await writeFile(file, JSON.stringify({ apps }));
  const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace };
  const gateway = await startService("gateway", { ...env, HERALD_CONFIG: file });
  const evaluator = await startService("evaluator", env);
  services = [gateway, evaluator];
  await Promise.all(services.map((s) => s.waitReady()));
  client = heraldClient(gateway.grpcAddress);
  nc = await connect({ servers: nats.url });
});

afterAll(async () => {
  client?.close();
  await nc?.close();
  await stopAll(services);
  await server?.close();
  await provider?.close();
  await nats?.stop();
});

const single = { sendID: "u1", recvID: "u2", contentType: 101, content: '{"content":"hi"}' };
const ask = (appId: string) =>
  before(client, {
    appId,
    command: "callbackBeforeSendSingleMsgCommand",
    operationId: `op-${appId}`,
    payload: single,
  });

/** The before-hook attempt record of an app, once the evaluator has published it. */
async function beforeRecord(appId: string): Promise<AttemptRecord> {
  const stream = busNames(nats.namespace).streams.attempts;
  let found: AttemptRecord | undefined;
  await waitFor(
    async () => {
      const records = await storedAttemptRecords(nc, stream);
      found = records.findLast((record) => record.kind === "before" && record.appId === appId);
      return found !== undefined;
    },
    { timeoutMs: 10_000, what: `the attempt record of ${appId}` },
  );
  return found!;
}

it.each(["byname", "mapped", "decimal", "provider"])(
  "refuses a loopback hook URL (%s): denied with Herald's network code, nothing sent",
  async (name) => {
    const appId = `deny-${name}`;
    const res = await ask(appId);
    expect(res).toMatchObject({
      decision: Decision.DECISION_DENY,
      source: DecisionSource.DECISION_SOURCE_CALLBACK_FAILED,
      errCode: 90004,
      errMsg: "callback failed: refused",
    });
    expect(res.errDlt).toMatch(/refused: .*loopback/);
    const record = await beforeRecord(appId);
    expect(record).toMatchObject({ outcome: "failed_deny", status: 0 });
    expect(record.error).toMatch(/^refused: .*loopback/);
    expect(server.requests).toHaveLength(0);
  },
);

it("continues when the hook says failedContinue, still sending nothing", async () => {
  const res = await ask("cont-byname");
  expect(res).toMatchObject({
    decision: Decision.DECISION_CONTINUE,
    source: DecisionSource.DECISION_SOURCE_CALLBACK_FAILED,
  });
  const record = await beforeRecord("cont-byname");
  expect(record.outcome).toBe("failed_continue");
  expect(record.error).toMatch(/^refused: /);
  expect(server.requests).toHaveLength(0);
});

it("calls a loopback hook URL when the app sets allowPrivateDestinations", async () => {
  const res = await ask("allowed");
  expect(res).toMatchObject({
    decision: Decision.DECISION_CONTINUE,
    source: DecisionSource.DECISION_SOURCE_BUSINESS_SERVER,
  });
  const [req] = await server.waitForRequests(1);
  expect(req?.url).toBe("/cb/callbackBeforeSendSingleMsgCommand?contenttype=json");
  expect((await beforeRecord("allowed")).outcome).toBe("continue");
});

it("calls a loopback hook provider when the app allows private destinations (and only then)", async () => {
  const httpCalls = server.requests.length;
  const allowed = await ask("provider-allowed");
  expect(allowed).toMatchObject({
    decision: Decision.DECISION_CONTINUE,
    source: DecisionSource.DECISION_SOURCE_BUSINESS_SERVER,
  });
  // deny-provider's call (above) never reached it.
  expect(providerCalls).toEqual(["provider-allowed"]);
  expect(server.requests).toHaveLength(httpCalls);
});

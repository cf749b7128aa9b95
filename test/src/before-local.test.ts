import { writeFile, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Decision, DecisionSource, type HeraldServiceClient } from "@herald/proto";
import { busNames } from "@herald/bus";
import {
  startNats,
  startRecordingServer,
  waitFor,
  type NatsFixture,
  type RecordingServer,
} from "@herald/testkit";
import { startService, stopAll, type ServiceProcess } from "./harness.js";
import { before, heraldClient } from "./grpc-client.js";
import { storedAttemptRecords } from "./stream-contents.js";

// BEFORE_EVALUATION=local: the gateway evaluates before-hooks itself. No evaluator runs here, so a call
// that went over NATS would find no worker and come back CALLBACK_FAILED instead of the server's answer.

let nats: NatsFixture;
let nc: NatsConnection;
let gateway: ServiceProcess;
let client: HeraldServiceClient;
let server: RecordingServer;

beforeAll(async () => {
  nats = await startNats();
  server = await startRecordingServer();
  const file = path.join(await mkdtemp(path.join(tmpdir(), "herald-local-")), "herald.yaml");
  const hook = { enable: true, timeout: 5, maxRetries: 2, retryBackoffMs: 1, failedContinue: false };
  await writeFile(
    file,
    JSON.stringify({
      apps: {
        local_app: { openim: { url: `${server.url}/cb`, webhooks: { beforeSendSingleMsg: hook } } },
      },
    }),
  );
  gateway = await startService("gateway", {
    NATS_URL: nats.url,
    HERALD_NAMESPACE: nats.namespace,
    HERALD_CONFIG: file,
    BEFORE_EVALUATION: "local",
    DELIVERY_ALLOW_LOOPBACK: "true",
  });
  await gateway.waitReady();
  client = heraldClient(gateway.grpcAddress);
  nc = await connect({ servers: nats.url });
}, 180_000);

afterAll(async () => {
  client?.close();
  await nc?.close();
  await stopAll([gateway]);
  await server?.close();
  await nats?.stop();
});

const payload = { sendID: "用户一", recvID: "👩‍💻", contentType: 101, content: '{"content":"你好"}' };
const ask = (operationId: string) =>
  before(client, { appId: "local_app", command: "beforeSendSingleMsg", operationId, payload });

it("answers with the business server's decision, no evaluator running", async () => {
  server.reply({
    status: 200,
    body: { actionCode: 0, nextCode: 1, errCode: 5001, errMsg: "no", errDlt: "spam" },
  });
  expect(await ask("op-local-deny")).toMatchObject({
    decision: Decision.DECISION_DENY,
    source: DecisionSource.DECISION_SOURCE_BUSINESS_SERVER,
    errCode: 5001,
    errDlt: "spam",
    operationId: "op-local-deny",
  });
  const [request] = await server.waitForRequests(1);
  expect(request!.json()).toMatchObject({ ...payload, operationID: "op-local-deny" });
});

it("keeps the hook's policy: a 5xx is retried inside the budget and the next answer decides", async () => {
  server.clear();
  server.reply({ status: 503, body: "busy" }, { status: 200, body: { actionCode: 0, nextCode: 0 } });
  expect(await ask("op-local-retry")).toMatchObject({
    decision: Decision.DECISION_CONTINUE,
    source: DecisionSource.DECISION_SOURCE_BUSINESS_SERVER,
  });
  expect(server.requests).toHaveLength(2);
});

it("records every call on ATTEMPTS, as the evaluator service does", async () => {
  const stream = busNames(nats.namespace).streams.attempts;
  const records = await waitFor(
    async () => {
      const all = await storedAttemptRecords(nc, stream);
      const retry = all.filter((r) => r.operationId === "op-local-retry");
      return retry.length === 2 ? all : undefined;
    },
    { what: "the attempt records of the local evaluations" },
  );
  expect(records.filter((r) => r.operationId === "op-local-retry").map((r) => r.outcome)).toEqual([
    "retry",
    "continue",
  ]);
  expect(records.find((r) => r.operationId === "op-local-deny")).toMatchObject({
    kind: "before",
    appId: "local_app",
    hook: "beforeSendSingleMsg",
    outcome: "deny",
  });
});

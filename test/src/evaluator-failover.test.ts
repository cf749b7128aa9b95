import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DecisionSource, type BeforeResponse, type HeraldServiceClient } from "@herald/proto";
import {
  startNats,
  startRecordingServer,
  waitFor,
  type NatsFixture,
  type RecordingServer,
} from "@herald/testkit";
import { startService, stopAll, type ServiceProcess } from "./harness.js";
import { before, heraldClient } from "./grpc-client.js";

let nats: NatsFixture;
let server: RecordingServer;
let gateway: ServiceProcess;
let evaluators: ServiceProcess[] = [];
let client: HeraldServiceClient;

beforeAll(async () => {
  nats = await startNats();
  server = await startRecordingServer();
  // Slow enough that calls are in the evaluators' hands when one of them is killed.
  server.fallback({ status: 200, delayMs: 150, body: { actionCode: 0, nextCode: 0 } });
  const file = path.join(await mkdtemp(path.join(tmpdir(), "herald-failover-")), "herald.yaml");
  const hook = { enable: true, timeout: 5, failedContinue: true };
  await writeFile(
    file,
    JSON.stringify({
      apps: { app1: { openim: { url: server.url, webhooks: { beforeSendSingleMsg: hook } } } },
    }),
  );
  const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace };
  gateway = await startService("gateway", { ...env, HERALD_CONFIG: file });
  const local = { ...env, DELIVERY_ALLOW_LOOPBACK: "true" };
  evaluators = await Promise.all([startService("evaluator", local), startService("evaluator", local)]);
  await Promise.all([gateway, ...evaluators].map((s) => s.waitReady()));
  client = heraldClient(gateway.grpcAddress);
});

afterAll(async () => {
  client?.close();
  await stopAll([gateway, ...evaluators].filter(Boolean));
  await server?.close();
  await nats?.stop();
});

async function callsServed(evaluator: ServiceProcess): Promise<number> {
  const text = await (await fetch(`${evaluator.httpUrl}/metrics`)).text();
  return [...text.matchAll(/^herald_evaluator_calls_total\{[^}]*\} (\d+)/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
}

it("shares the load between two evaluators, and loses no call when one is killed mid-run", async () => {
  const results: BeforeResponse[] = [];
  let stop = false;
  const loops = Array.from({ length: 8 }, async (_, i) => {
    for (let n = 0; !stop; n++) {
      results.push(
        await before(client, {
          appId: "app1",
          command: "callbackBeforeSendSingleMsgCommand",
          operationId: `loop${i}-${n}`,
          payload: { sendID: "u1", recvID: "u2", contentType: 101 },
        }),
      );
    }
  });

  await waitFor(() => results.length >= 40, { timeoutMs: 30_000, what: "40 answered calls" });
  const [victim, survivor] = evaluators as [ServiceProcess, ServiceProcess];
  expect(await callsServed(victim)).toBeGreaterThan(0);
  expect(await callsServed(survivor)).toBeGreaterThan(0);

  victim.child.kill("SIGKILL");
  await victim.exited;
  const atKill = results.length;
  await waitFor(() => results.length >= atKill + 60, {
    timeoutMs: 30_000,
    what: "60 more calls after the kill",
  });
  stop = true;
  await Promise.all(loops);

  const failed = results.filter((r) => r.source !== DecisionSource.DECISION_SOURCE_BUSINESS_SERVER);
  expect(failed).toEqual([]);
  // Calls held by the killed evaluator went again to the survivor: every operation reached the server.
  const seen = new Set(server.requests.map((r) => r.headers["operationid"]));
  expect(results.every((r) => seen.has(r.operationId))).toBe(true);
});

// Before-hooks answered by a gRPC hook provider: gRPC Before (and BeforeStream) through gateway and
// evaluator to a provider in this process, against a direct Decide stream to the same provider (the
// floor), in one run, at before.bench's rate and concurrency.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { credentials } from "@grpc/grpc-js";
import { DecideRequest, DecisionSource, HookProviderServiceClient, type DecideResponse } from "@herald/proto";
import { openImAnswer, serveHookProvider } from "@herald/receiver";
import { startNats } from "@herald/testkit";
import { before, beforeStream, heraldClient, startService, stopAll } from "@herald/e2e";
import {
  CONCURRENCY,
  PAYLOAD,
  RATE,
  THROUGHPUT_CALLS,
  closedLoop,
  openLoop,
  profile,
} from "./before.bench.js";
import { percentile, type Row } from "./stats.js";

const COMMAND = "callbackBeforeSendSingleMsgCommand";

export async function benchBeforeProvider(): Promise<Row[]> {
  const answer = openImAnswer.allow();
  const provider = await serveHookProvider({ host: "127.0.0.1", decide: () => answer });
  const nats = await startNats({ source: "local" });
  const file = path.join(await mkdtemp(path.join(tmpdir(), "herald-bench-")), "herald.yaml");
  const hook = { enable: true, timeout: 5, failedContinue: true };
  await writeFile(
    file,
    JSON.stringify({
      apps: {
        bench: {
          openim: {
            // Never called: the provider answers the synchronous hooks.
            url: "http://127.0.0.1:9/unused",
            provider: { targets: [`grpc://127.0.0.1:${provider.port}`] },
            webhooks: { beforeSendSingleMsg: hook },
          },
        },
      },
    }),
  );
  const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace, LOG_LEVEL: "warn", ...profile() };
  const gateway = await startService("gateway", { ...env, HERALD_CONFIG: file });
  const evaluator = await startService("evaluator", { ...env, DELIVERY_ALLOW_LOOPBACK: "true" });
  try {
    await Promise.all([gateway.waitReady(), evaluator.waitReady()]);
    const client = heraldClient(gateway.grpcAddress);
    const floor = directStream(provider.port);
    const body = JSON.stringify({ ...PAYLOAD, callbackCommand: COMMAND, operationID: "op" });
    const direct = () => floor.decide(body);
    const stream = beforeStream(client);
    const heraldStream = async () => {
      const res = await stream.send({ appId: "bench", command: COMMAND, payload: PAYLOAD });
      if (res.response?.source !== DecisionSource.DECISION_SOURCE_BUSINESS_SERVER)
        throw new Error("unexpected answer");
    };
    const herald = async () => {
      const res = await before(client, { appId: "bench", command: COMMAND, payload: PAYLOAD });
      if (res.source !== DecisionSource.DECISION_SOURCE_BUSINESS_SERVER)
        throw new Error(`unexpected decision source ${res.source}`);
    };

    await closedLoop(direct, 2_000);
    await closedLoop(herald, 2_000);
    await closedLoop(heraldStream, 2_000);
    const floorRate = await closedLoop(direct, THROUGHPUT_CALLS);
    const heraldRate = await closedLoop(herald, THROUGHPUT_CALLS);
    const streamRate = await closedLoop(heraldStream, THROUGHPUT_CALLS);
    const floorLat = await openLoop(direct);
    const heraldLat = await openLoop(herald);
    const streamLat = await openLoop(heraldStream);
    stream.end();
    client.close();
    floor.close();
    const p = (s: number[], q: number) => percentile(s, q);
    return [
      {
        name: `provider: latency p50 at ${RATE}/s`,
        unit: "ms",
        value: p(heraldLat, 50),
        floor: p(floorLat, 50),
      },
      {
        name: `provider: latency p99 at ${RATE}/s`,
        unit: "ms",
        value: p(heraldLat, 99),
        floor: p(floorLat, 99),
      },
      {
        name: `provider: added latency p50 at ${RATE}/s`,
        unit: "ms",
        value: p(heraldLat, 50) - p(floorLat, 50),
      },
      {
        name: `provider: added latency p99 at ${RATE}/s`,
        unit: "ms",
        value: p(heraldLat, 99) - p(floorLat, 99),
      },
      {
        name: `provider: throughput, ${CONCURRENCY} in flight`,
        unit: "calls/s",
        value: heraldRate,
        floor: floorRate,
      },
      {
        name: `provider: BeforeStream latency p50 at ${RATE}/s`,
        unit: "ms",
        value: p(streamLat, 50),
        floor: p(floorLat, 50),
      },
      {
        name: `provider: BeforeStream latency p99 at ${RATE}/s`,
        unit: "ms",
        value: p(streamLat, 99),
        floor: p(floorLat, 99),
      },
      {
        name: `provider: BeforeStream throughput, ${CONCURRENCY} in flight`,
        unit: "calls/s",
        value: streamRate,
        floor: floorRate,
      },
    ];
  } finally {
    await stopAll([gateway, evaluator]);
    await nats.stop();
    await provider.close();
  }
}

/** The floor: this process's own Decide stream to the provider, answers matched by id. */
function directStream(port: number) {
  const client = new HookProviderServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  const stream = client.decide();
  const waiting = new Map<number, () => void>();
  let nextId = 0;
  stream.on("data", (answer: DecideResponse) => {
    waiting.get(answer.id)?.();
    waiting.delete(answer.id);
  });
  stream.on("error", () => undefined);
  return {
    decide(body: string): Promise<void> {
      const id = ++nextId;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        stream.write(DecideRequest.fromPartial({ id, appId: "bench", hook: "beforeSendSingleMsg", body }));
      });
    },
    close() {
      stream.end();
      client.close();
    },
  };
}

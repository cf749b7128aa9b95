// Before-hooks answered by a gRPC hook provider: gRPC Before and BeforeStream through the gateway and
// the evaluator (over NATS) to a provider in this process, against this process's own Decide stream to
// the same provider (the floor), in one run, at before.bench's rate and concurrency.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { credentials } from "@grpc/grpc-js";
import { DecideRequest, HookProviderServiceClient, type DecideResponse } from "@herald/proto";
import { openImAnswer, serveHookProvider } from "@herald/receiver";
import { startNats } from "@herald/testkit";
import { heraldClient, startService, stopAll, type ServiceProcess } from "@herald/e2e";
import { COMMAND, PAYLOAD, answeredCalls, beforeRows, measure } from "./before.bench.js";
import { natsServerPid, profiledEnv } from "./process-cpu.js";
import type { Row } from "./stats.js";

export async function benchBeforeProvider(): Promise<Row[]> {
  const answer = openImAnswer.allow();
  const provider = await serveHookProvider({ host: "127.0.0.1", decide: () => answer });
  const nats = await startNats({ source: "local" });
  const file = path.join(await mkdtemp(path.join(tmpdir(), "herald-bench-")), "herald.yaml");
  const openim = {
    // Never called: the provider answers the synchronous hooks.
    url: "http://127.0.0.1:9/unused",
    provider: { targets: [`grpc://127.0.0.1:${provider.port}`] },
    webhooks: { beforeSendSingleMsg: { enable: true, timeout: 5, failedContinue: true } },
  };
  await writeFile(file, JSON.stringify({ apps: { bench: { openim } } }));
  const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace, LOG_LEVEL: "warn", ...profiledEnv() };
  const services: ServiceProcess[] = [];
  const floorStream = directStream(provider.port);
  try {
    const gateway = await startService("gateway", { ...env, HERALD_CONFIG: file });
    services.push(gateway);
    const evaluator = await startService("evaluator", { ...env, DELIVERY_ALLOW_LOOPBACK: "true" });
    services.push(evaluator);
    await Promise.all(services.map((s) => s.waitReady()));
    const pids = [process.pid, gateway.child.pid, evaluator.child.pid, natsServerPid(nats.url)];

    const body = JSON.stringify({ ...PAYLOAD, callbackCommand: COMMAND, operationID: "op" });
    const floor = await measure(() => floorStream.decide(body), pids, []);
    const client = heraldClient(gateway.grpcAddress);
    const calls = answeredCalls(client);
    const rows = [
      ...beforeRows("Before via a gRPC provider", await measure(calls.unary, pids, services), floor),
      ...beforeRows("BeforeStream via a gRPC provider", await measure(calls.streamed, pids, []), floor),
    ];
    calls.end();
    client.close();
    return rows;
  } finally {
    floorStream.close();
    await stopAll(services);
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

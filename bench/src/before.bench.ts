// Before-hooks: gRPC Before through gateway and evaluator to a local business server, against
// a direct undici POST to the same server (the floor), in one run.
import { createServer, type Server } from "node:http";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Agent, request } from "undici";
import { DecisionSource, type HeraldServiceClient } from "@herald/proto";
import { startNats } from "@herald/testkit";
import { before, beforeStream, heraldClient, startService, stopAll } from "@herald/e2e";
import { ms, percentile, type Row } from "./stats.js";

const RATE = Number(process.env.BENCH_BEFORE_RATE ?? 1000); // calls per second, open loop
const RATE_SECONDS = Number(process.env.BENCH_BEFORE_SECONDS ?? 5);
const CONCURRENCY = 64;
const THROUGHPUT_CALLS = Number(process.env.BENCH_BEFORE_CALLS ?? 10_000);
const ANSWER = JSON.stringify({ actionCode: 0, errCode: 0, errMsg: "", errDlt: "", nextCode: 0 });
export const PAYLOAD = {
  sendID: "u1",
  recvID: "u2",
  contentType: 101,
  content: '{"content":"hello"}',
  sessionType: 1,
};

export async function benchBefore(): Promise<Row[]> {
  const business = await businessServer();
  const address = business.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const baseUrl = `http://127.0.0.1:${port}/callbackExample`;
  const nats = await startNats({ source: "local" });
  const file = path.join(await mkdtemp(path.join(tmpdir(), "herald-bench-")), "herald.yaml");
  const hook = { enable: true, timeout: 5, failedContinue: true };
  await writeFile(
    file,
    JSON.stringify({
      apps: { bench: { openim: { url: baseUrl, webhooks: { beforeSendSingleMsg: hook } } } },
    }),
  );
  const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace, LOG_LEVEL: "warn", ...profile() };
  const gateway = await startService("gateway", { ...env, HERALD_CONFIG: file });
  const evaluator = await startService("evaluator", { ...env, DELIVERY_ALLOW_LOOPBACK: "true" });
  try {
    await Promise.all([gateway.waitReady(), evaluator.waitReady()]);
    const client = heraldClient(gateway.grpcAddress);
    const agent = new Agent({ connections: CONCURRENCY });
    const body = JSON.stringify({
      ...PAYLOAD,
      callbackCommand: "callbackBeforeSendSingleMsgCommand",
      operationID: "op",
    });

    const direct = async () => {
      const res = await request(`${baseUrl}/callbackBeforeSendSingleMsgCommand?contenttype=json`, {
        method: "POST",
        headers: { "content-type": "application/json", operationid: "op" },
        body,
        dispatcher: agent,
      });
      await res.body.text();
    };
    const rows = await measureBefore(direct, heraldBeforeCalls(client));
    client.close();
    await agent.close();
    return rows;
  } finally {
    await stopAll([gateway, evaluator]);
    await nats.stop();
    await new Promise((r) => business.close(r));
  }
}

/** Before and BeforeStream calls for app "bench" that must be answered by the business server. */
export function heraldBeforeCalls(client: HeraldServiceClient) {
  const stream = beforeStream(client);
  const command = "callbackBeforeSendSingleMsgCommand";
  return {
    herald: async () => {
      const res = await before(client, { appId: "bench", command, payload: PAYLOAD });
      if (res.source !== DecisionSource.DECISION_SOURCE_BUSINESS_SERVER)
        throw new Error(`unexpected decision source ${res.source}`);
    },
    heraldStream: async () => {
      const res = await stream.send({ appId: "bench", command, payload: PAYLOAD });
      if (res.response?.source !== DecisionSource.DECISION_SOURCE_BUSINESS_SERVER)
        throw new Error("unexpected answer");
    },
    end: () => stream.end(),
  };
}

/**
 * Throughput with CONCURRENCY in flight and open-loop latency at RATE of Before and BeforeStream against
 * the floor (`direct`), each warmed up first; row names start with `prefix`.
 */
export async function measureBefore(
  direct: () => Promise<void>,
  calls: ReturnType<typeof heraldBeforeCalls>,
  prefix = "",
): Promise<Row[]> {
  const { herald, heraldStream } = calls;
  await closedLoop(direct, 2_000);
  await closedLoop(herald, 2_000);
  await closedLoop(heraldStream, 2_000);
  const floorRate = await closedLoop(direct, THROUGHPUT_CALLS);
  const heraldRate = await closedLoop(herald, THROUGHPUT_CALLS);
  const streamRate = await closedLoop(heraldStream, THROUGHPUT_CALLS);
  const floorLat = await openLoop(direct);
  const heraldLat = await openLoop(herald);
  const streamLat = await openLoop(heraldStream);
  calls.end();
  const p = (s: number[], q: number) => percentile(s, q);
  const rows: Row[] = [
    { name: `latency p50 at ${RATE}/s`, unit: "ms", value: p(heraldLat, 50), floor: p(floorLat, 50) },
    { name: `latency p99 at ${RATE}/s`, unit: "ms", value: p(heraldLat, 99), floor: p(floorLat, 99) },
    { name: `added latency p50 at ${RATE}/s`, unit: "ms", value: p(heraldLat, 50) - p(floorLat, 50) },
    { name: `added latency p99 at ${RATE}/s`, unit: "ms", value: p(heraldLat, 99) - p(floorLat, 99) },
    { name: `throughput, ${CONCURRENCY} in flight`, unit: "calls/s", value: heraldRate, floor: floorRate },
    {
      name: `BeforeStream latency p50 at ${RATE}/s`,
      unit: "ms",
      value: p(streamLat, 50),
      floor: p(floorLat, 50),
    },
    {
      name: `BeforeStream latency p99 at ${RATE}/s`,
      unit: "ms",
      value: p(streamLat, 99),
      floor: p(floorLat, 99),
    },
    { name: `BeforeStream added latency p50`, unit: "ms", value: p(streamLat, 50) - p(floorLat, 50) },
    { name: `BeforeStream added latency p99`, unit: "ms", value: p(streamLat, 99) - p(floorLat, 99) },
    {
      name: `BeforeStream throughput, ${CONCURRENCY} in flight`,
      unit: "calls/s",
      value: streamRate,
      floor: floorRate,
    },
  ];
  return rows.map((row) => ({ ...row, name: `${prefix}${row.name}` }));
}

// BENCH_PROFILE=dir writes V8 CPU profiles of the services into dir.
export function profile(): Record<string, string> {
  const dir = process.env.BENCH_PROFILE;
  return dir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}` } : {};
}

function businessServer(): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(ANSWER) });
      res.end(ANSWER);
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/** Calls per second with CONCURRENCY calls always in flight. */
async function closedLoop(call: () => Promise<void>, total: number): Promise<number> {
  let started = 0;
  const t = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (started < total) {
        started += 1;
        await call();
      }
    }),
  );
  return total / (ms(process.hrtime.bigint() - t) / 1000);
}

/** Latencies of calls sent at a fixed rate, each measured from when it was due (no coordinated omission). */
async function openLoop(call: () => Promise<void>): Promise<number[]> {
  const total = RATE * RATE_SECONDS;
  const interval = 1000 / RATE;
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    // Measured from when it was due, or from when it went out if timers sent it a little early.
    const sent = Math.min(due, performance.now());
    pending.push(call().then(() => void latencies.push(performance.now() - sent)));
  }
  await Promise.all(pending);
  return latencies;
}

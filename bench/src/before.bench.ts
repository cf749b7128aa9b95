// Before-hooks: gRPC Before through the gateway to a local business server, against a direct undici
// POST to the same server (the floor), in one run: with the evaluator as its own service over NATS (the
// default) and inside the gateway (BEFORE_EVALUATION=local), unary and streamed, and with the hook off
// (the chat core's cost of asking Herald at all).
import { createServer, type Server } from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Agent, request } from "undici";
import { DecisionSource, type HeraldServiceClient } from "@herald/proto";
import { startNats } from "@herald/testkit";
import { before, beforeStream, heraldClient, startService, stopAll, type ServiceProcess } from "@herald/e2e";
import { ms, percentile, type Row } from "./stats.js";
import { cpuMeter, natsServerPid, profileToggle, profiledEnv } from "./process-cpu.js";

const RATE = Number(process.env.BENCH_BEFORE_RATE ?? 1000); // calls per second, open loop
const RATE_SECONDS = Number(process.env.BENCH_BEFORE_SECONDS ?? 5);
const CONCURRENCY = 64;
const THROUGHPUT_CALLS = Number(process.env.BENCH_BEFORE_CALLS ?? 10_000);
const ANSWER = JSON.stringify({ actionCode: 0, errCode: 0, errMsg: "", errDlt: "", nextCode: 0 });
export const COMMAND = "callbackBeforeSendSingleMsgCommand";
export const PAYLOAD = {
  sendID: "u1",
  recvID: "u2",
  contentType: 101,
  content: '{"content":"hello"}',
  sessionType: 1,
};

export type Call = () => Promise<void>;
export interface Run {
  latencies: number[];
  /** CPU µs per call of: the bench process, the gateway, the evaluator (if any), nats-server. */
  cpu: number[];
  /** Event loop delay over the run at RATE: the bench process's, then each watched service's. */
  loops: { who: string; p99Ms: number; maxMs: number }[];
  rate: number;
  /** Calls answered by someone else than the business server (a timeout under load, a failure policy). */
  unanswered: number;
}

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
      apps: {
        bench: { openim: { url: baseUrl, webhooks: { beforeSendSingleMsg: hook } } },
        off: { openim: { url: baseUrl, webhooks: { beforeSendSingleMsg: { ...hook, enable: false } } } },
      },
    }),
  );
  const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace, LOG_LEVEL: "warn", ...profiledEnv() };
  const services: ServiceProcess[] = [];
  const agent = new Agent({ connections: CONCURRENCY });
  try {
    const gateway = await startService("gateway", { ...env, HERALD_CONFIG: file });
    services.push(gateway);
    const evaluator = await startService("evaluator", { ...env, DELIVERY_ALLOW_LOOPBACK: "true" });
    services.push(evaluator);
    const local = await startService("gateway", {
      ...env,
      BEFORE_EVALUATION: "local",
      DELIVERY_ALLOW_LOOPBACK: "true",
    });
    services.push(local);
    await Promise.all(services.map((s) => s.waitReady()));

    const body = JSON.stringify({ ...PAYLOAD, callbackCommand: COMMAND, operationID: "op" });
    const direct: Call = async () => {
      const res = await request(`${baseUrl}/${COMMAND}?contenttype=json`, {
        method: "POST",
        headers: { "content-type": "application/json", operationid: "op" },
        body,
        dispatcher: agent,
      });
      await res.body.text();
    };
    const natsPids = [process.pid, gateway.child.pid, evaluator.child.pid, natsServerPid(nats.url)];
    const localPids = [process.pid, local.child.pid, undefined, natsServerPid(nats.url)];

    const floor = await measure(direct, natsPids, []);
    const rows: Row[] = [];
    const report = (label: string, run: Run) => {
      rows.push(...beforeRows(label, run, floor));
    };
    for (const [label, gw, pids] of [
      ["Before, evaluator over NATS (default)", gateway, natsPids],
      ["Before, evaluator in the gateway (local)", local, localPids],
    ] as const) {
      const client = heraldClient(gw.grpcAddress);
      const calls = answeredCalls(client);
      // Profiles (BENCH_PROFILE_DIR) cover the unary run at RATE of each configuration.
      const watched = gw === local ? [local] : [gw, evaluator];
      report(label, await measure(calls.unary, pids, services, watched));
      report(label.replace("Before", "BeforeStream"), await measure(calls.streamed, pids, [], watched));
      calls.end();
      client.close();
    }
    // The chat core's view: what asking Herald costs when the hook is off (answered by the gateway).
    const client = heraldClient(gateway.grpcAddress);
    const off: Call = async () => {
      const res = await before(client, { appId: "off", command: COMMAND, payload: PAYLOAD });
      if (res.source !== DecisionSource.DECISION_SOURCE_HOOK_DISABLED) throw new Error("unexpected answer");
    };
    report("Before, hook disabled (no callback)", await measure(off, natsPids, [], [gateway]));
    client.close();
    return rows;
  } finally {
    await agent.close();
    await stopAll(services);
    await nats.stop();
    await new Promise((r) => business.close(r));
  }
}

/** Before and BeforeStream calls of app "bench"'s hook, each failing unless the business server answered. */
export function answeredCalls(client: HeraldServiceClient) {
  const stream = beforeStream(client);
  const hookOn = { appId: "bench", command: COMMAND, payload: PAYLOAD };
  const unary: Call = async () => {
    const res = await before(client, hookOn);
    if (res.source !== DecisionSource.DECISION_SOURCE_BUSINESS_SERVER)
      throw new Error(`unexpected decision source ${res.source}`);
  };
  const streamed: Call = async () => {
    const res = await stream.send(hookOn);
    if (res.response?.source !== DecisionSource.DECISION_SOURCE_BUSINESS_SERVER)
      throw new Error("unexpected answer");
  };
  return { unary, streamed, end: () => stream.end() };
}

/** The rows of one measured way of asking, against the floor's run. */
export function beforeRows(label: string, run: Run, floor: Run): Row[] {
  const p = (q: number) => percentile(run.latencies, q);
  const f = (q: number) => percentile(floor.latencies, q);
  return [
    { name: `${label}: added latency p50 at ${RATE}/s`, unit: "ms", value: p(50) - f(50) },
    { name: `${label}: added latency p99 at ${RATE}/s`, unit: "ms", value: p(99) - f(99) },
    { name: `${label}: latency p50 at ${RATE}/s`, unit: "ms", value: p(50), floor: f(50) },
    { name: `${label}: latency p99 at ${RATE}/s`, unit: "ms", value: p(99), floor: f(99) },
    {
      name: `${label}: throughput, ${CONCURRENCY} in flight`,
      unit: "calls/s",
      value: run.rate,
      floor: floor.rate,
    },
    {
      name: `${label}: CPU per call, Herald's processes (gateway, evaluator, nats-server)`,
      unit: "µs",
      value: run.cpu.slice(1).reduce((a, b) => a + (Number.isNaN(b) ? 0 : b), 0),
    },
    {
      name: `${label}: CPU per call, the bench process (gRPC client, business server)`,
      unit: "µs",
      value: run.cpu[0] ?? NaN,
      floor: floor.cpu[0],
    },
    {
      name: `${label}: calls not answered by the business server (of ${THROUGHPUT_CALLS + RATE * RATE_SECONDS})`,
      unit: "count",
      value: run.unanswered,
    },
    // Where a tail comes from: a stalled event loop in a process holds every call in it.
    ...run.loops.map((l, i) => ({
      name: `${label}: event loop delay p99, ${l.who}`,
      unit: "ms",
      value: l.p99Ms,
      ...(i === 0 ? { floor: floor.loops[0]?.p99Ms ?? NaN } : {}),
    })),
    ...run.loops.map((l) => ({
      name: `${label}: event loop delay max, ${l.who}`,
      unit: "ms",
      value: l.maxMs,
    })),
  ];
}

/** Warms up, then the throughput at CONCURRENCY in flight and the latencies and CPU at RATE. */
export async function measure(
  call: Call,
  pids: (number | undefined)[],
  profiled: ServiceProcess[],
  watched: ServiceProcess[] = [],
): Promise<Run> {
  // A call the business server did not answer still took its time, and is counted, not fatal: on a
  // loaded machine a few may reach the hook's timeout.
  let unanswered = 0;
  const counted: Call = () =>
    call().catch(() => {
      unanswered += 1;
    });
  await closedLoop(counted, 2_000);
  unanswered = 0;
  const rate = await closedLoop(counted, THROUGHPUT_CALLS);
  const meter = cpuMeter(pids);
  await Promise.all(watched.map(loopLag)); // a scrape resets prom-client's figures
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  profileToggle(profiled);
  const latencies = await openLoop(counted);
  profileToggle(profiled);
  loop.disable();
  const cpu = meter().map((seconds) => (seconds * 1e6) / latencies.length);
  const loops = [
    { who: "bench process", p99Ms: loop.percentile(99) / 1e6, maxMs: loop.max / 1e6 },
    ...(await Promise.all(watched.map(async (s) => ({ who: s.name, ...(await loopLag(s)) })))),
  ];
  return { latencies, cpu, rate, loops, unanswered };
}

/** A service's event loop delay since its last scrape (prom-client's nodejs_eventloop_lag_*), in ms. */
async function loopLag(service: ServiceProcess): Promise<{ p99Ms: number; maxMs: number }> {
  const text = await (await fetch(`${service.httpUrl}/metrics`)).text();
  const read = (name: string) => {
    // Every series carries the service's label: `name{service="gateway"} 0.0123`.
    const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
    return line === undefined ? NaN : 1000 * Number(line.slice(line.lastIndexOf(" ") + 1));
  };
  return { p99Ms: read("nodejs_eventloop_lag_p99_seconds"), maxMs: read("nodejs_eventloop_lag_max_seconds") };
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
async function closedLoop(call: Call, total: number): Promise<number> {
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
async function openLoop(call: Call): Promise<number[]> {
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

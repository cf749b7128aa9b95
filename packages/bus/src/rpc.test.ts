import { createLogger } from "@herald/runtime";
import { startNats, waitFor, type NatsFixture } from "@herald/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { connectBus, type Bus } from "./connection.js";
import { RpcUnavailableError, requestRpc, serveRpc } from "./rpc.js";

const log = createLogger({ service: "rpc-test", level: process.env["LOG_LEVEL"] ?? "silent" });
const text = new TextEncoder();
const read = new TextDecoder();
let nats: NatsFixture;
let caller: Bus;
const buses: Bus[] = [];

async function worker(name: string, subject: string, handle: (data: string) => Promise<string>) {
  const bus = await connectBus({ servers: nats.url, name, log, namespace: nats.namespace || "r" });
  buses.push(bus);
  const server = serveRpc({
    bus,
    subject,
    queue: "workers",
    instanceId: name,
    log,
    handle: async (data) => text.encode(await handle(read.decode(data))),
  });
  await server.ready;
  return { bus, server };
}

beforeAll(async () => {
  nats = await startNats();
  caller = await connectBus({ servers: nats.url, name: "caller", log, namespace: nats.namespace || "r" });
});

afterAll(async () => {
  await Promise.all([caller, ...buses].map((b) => b.drain()));
  await nats?.stop();
});

const ask = (subject: string, body: string, timeoutMs = 5_000) =>
  requestRpc(caller, subject, text.encode(body), { timeoutMs, probeIntervalMs: 50 }).then((d) =>
    read.decode(d),
  );

it("answers through one worker of the queue group", async () => {
  await worker("w-echo", "rpc.echo", (d) => Promise.resolve(`echo ${d}`));
  expect(await ask("rpc.echo", "hi")).toBe("echo hi");
});

it("fails at once with no_workers when nobody serves the subject", async () => {
  const err = await ask("rpc.nobody", "x").catch((e: unknown) => e);
  expect(err).toBeInstanceOf(RpcUnavailableError);
  expect((err as RpcUnavailableError).reason).toBe("no_workers");
});

it("fails with timeout when the worker is alive but slower than the caller's time", async () => {
  await worker("w-slow", "rpc.slow", () => new Promise((r) => setTimeout(() => r("late"), 2_000)));
  const err = await ask("rpc.slow", "x", 300).catch((e: unknown) => e);
  expect((err as RpcUnavailableError).reason).toBe("timeout");
});

it("passes the caller's remaining time to the worker", async () => {
  let seen = 0;
  const bus = await connectBus({
    servers: nats.url,
    name: "w-deadline",
    log,
    namespace: nats.namespace || "r",
  });
  buses.push(bus);
  const server = serveRpc({
    bus,
    subject: "rpc.deadline",
    queue: "workers",
    instanceId: "w-deadline",
    log,
    handle: (_d, ctx) => {
      seen = ctx.deadlineMs;
      return Promise.resolve(new Uint8Array());
    },
  });
  await server.ready;
  await requestRpc(caller, "rpc.deadline", new Uint8Array(), { timeoutMs: 4_000 });
  expect(seen).toBeGreaterThan(0);
  expect(seen).toBeLessThanOrEqual(4_000);
});

it("sends the request again to another worker when the one holding it dies", async () => {
  const received: string[] = [];
  let release: (() => void) | undefined;
  const doomed = await worker("w-doomed", "rpc.failover", (d) => {
    received.push(`doomed:${d}`);
    return new Promise<string>((r) => (release = () => r("too late")));
  });
  const answer = ask("rpc.failover", "job-1", 10_000);
  await waitFor(() => received.length === 1, { what: "the first worker to take the request" });

  await worker("w-survivor", "rpc.failover", (d) => {
    received.push(`survivor:${d}`);
    return Promise.resolve(`done ${d}`);
  });
  // Closing the connection is what a killed process looks like to NATS.
  await doomed.bus.nc.close();
  expect(await answer).toBe("done job-1");
  expect(received).toEqual(["doomed:job-1", "survivor:job-1"]);
  release?.();
});

it("stops taking requests on stop() and finishes the one in hand", async () => {
  let release: (() => void) | undefined;
  const { server } = await worker(
    "w-stop",
    "rpc.stop",
    () => new Promise<string>((r) => (release = () => r("finished"))),
  );
  const answer = ask("rpc.stop", "x");
  await waitFor(() => server.inFlight === 1, { what: "the request to be in hand" });
  const stopped = server.stop();
  release?.();
  await stopped;
  expect(await answer).toBe("finished");
  const after = await ask("rpc.stop", "y").catch((e: unknown) => e);
  expect((after as RpcUnavailableError).reason).toBe("no_workers");
});

import { randomBytes } from "node:crypto";
import { setImmediate as tick } from "node:timers/promises";
import { RetryableError, TerminalError, createLogger } from "@herald/runtime";
import { startNats, waitFor } from "@herald/testkit";
import type { NatsFixture } from "@herald/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connectBus } from "./connection.js";
import type { Bus } from "./connection.js";
import { startConsumer } from "./consume.js";
import type { ConsumerOptions, ConsumerRunner, Delivery } from "./consume.js";
import type { ConsumerSpec } from "./consumer-spec.js";
import { publishEvent } from "./publish.js";
import { applyTopology } from "./topology.js";

const log = createLogger({ service: "bus-test", level: process.env["LOG_LEVEL"] ?? "silent" });
const WAIT = { timeoutMs: 20_000 };
let nats: NatsFixture;
let bus: Bus;
const runners: ConsumerRunner[] = [];

beforeAll(async () => {
  nats = await startNats();
  bus = await connectBus({
    servers: nats.url,
    name: "bus-consume-test",
    log,
    namespace: nats.namespace || "c",
  });
  await applyTopology(bus, { replicas: 1 });
});

afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop(AbortSignal.timeout(5_000))));
});

afterAll(async () => {
  await bus?.drain();
  await nats?.stop();
});

// Each test reads its own app's events through its own durable, so tests do not see each other's messages.
function scenario(): { spec: ConsumerSpec; publish: (n: number) => Promise<void> } {
  const app = `app${randomBytes(4).toString("hex")}`;
  const spec: ConsumerSpec = {
    stream: bus.names.streams.events,
    durable: app,
    filterSubject: bus.names.subjects.events(app),
    ackWaitMs: 60_000, // longer than any test, so a redelivery can only come from nak
  };
  let next = 0;
  return {
    spec,
    publish: async (n) => {
      for (let i = 0; i < n; i++, next++) {
        const body = new TextEncoder().encode(String(next));
        const subject = bus.names.subjects.event({ lane: "msg", partition: 0, appId: app, type: "msg.sent" });
        await publishEvent(bus, subject, body, { msgId: `${app}-${next}` });
      }
    },
  };
}

function run(opts: Omit<ConsumerOptions, "bus">): ConsumerRunner {
  const runner = startConsumer({ bus, log, retryDelayMs: () => 100, ...opts });
  runners.push(runner);
  return runner;
}

async function settledAll(spec: ConsumerSpec, published: number): Promise<void> {
  const jsm = await bus.jsm();
  await waitFor(
    async () => {
      const info = await jsm.consumers.info(spec.stream, spec.durable);
      // Deliveries count redeliveries too, so at least `published` of them have happened.
      return info.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.consumer_seq >= published;
    },
    { ...WAIT, what: `${published} messages settled on ${spec.durable}` },
  );
}

const text = (d: Delivery): string => new TextDecoder().decode(d.data);

// Most test handlers work synchronously; a throw becomes the rejection the loop sees.
function sync<A extends unknown[]>(work: (...args: A) => void): (...args: A) => Promise<void> {
  return (...args) =>
    new Promise<void>((resolve) => {
      work(...args);
      resolve();
    });
}

describe("startConsumer", () => {
  it("acks what the handler finished, with headers and delivery count", async () => {
    const { spec, publish } = scenario();
    const seen: Delivery[] = [];
    const runner = run({ spec, concurrency: 2, handle: sync((d) => void seen.push(d)) });
    await publish(3);
    await settledAll(spec, 3);
    expect(runner.state).toBe("running");
    expect(seen.map(text).sort()).toEqual(["0", "1", "2"]);
    expect(seen[0]).toMatchObject({ deliveryCount: 1, redelivered: false });
    expect(seen[0]?.headers["Nats-Msg-Id"]).toMatch(/^app[0-9a-f]+-\d$/);
  });

  it.each([0, 5, 20, 50])("stops cleanly when stopped %i ms after it started, still starting", async (ms) => {
    const { spec } = scenario();
    const runner = run({ spec, concurrency: 4, handle: sync(() => undefined) });
    await new Promise((r) => setTimeout(r, ms));
    // Without a deadline: a stop that hangs fails the test by its timeout.
    await runner.stop();
    expect(runner.state).toBe("stopped");
  });

  it("never runs more handlers at once than its concurrency", async () => {
    const { spec, publish } = scenario();
    let inflight = 0;
    let maxInflight = 0;
    let handled = 0;
    run({
      spec,
      concurrency: 3,
      handle: async () => {
        inflight++;
        maxInflight = Math.max(maxInflight, inflight);
        await new Promise((r) => setTimeout(r, 20));
        inflight--;
        handled++;
      },
    });
    await publish(20);
    await waitFor(() => handled === 20, { ...WAIT, what: "20 messages handled" });
    expect(maxInflight).toBe(3);
  });

  it("redelivers after a retryable error, with the delivery count rising", async () => {
    const { spec, publish } = scenario();
    const counts: number[] = [];
    run({
      spec,
      concurrency: 1,
      handle: sync((d) => {
        counts.push(d.deliveryCount);
        if (d.deliveryCount < 3) throw new RetryableError("business server busy", { retryAfterMs: 50 });
      }),
    });
    await publish(1);
    await settledAll(spec, 1);
    expect(counts).toEqual([1, 2, 3]);
  });

  it("terms a TerminalError at once and hands it to onDead", async () => {
    const { spec, publish } = scenario();
    let calls = 0;
    const dead: Array<{ count: number; err: Error }> = [];
    run({
      spec: { ...spec, maxDeliver: 5 },
      concurrency: 1,
      handle: sync(() => {
        calls++;
        throw new TerminalError("endpoint disabled");
      }),
      onDead: sync((d, err) => void dead.push({ count: d.deliveryCount, err })),
    });
    await publish(1);
    // Settled with the ack wait far away means the server took the term: no redelivery is coming.
    await settledAll(spec, 1);
    expect(calls).toBe(1);
    expect(dead).toHaveLength(1);
    expect(dead[0]?.count).toBe(1);
    expect(dead[0]?.err).toBeInstanceOf(TerminalError);
  });

  it("dead-letters a message that ran out of attempts", async () => {
    const { spec, publish } = scenario();
    let calls = 0;
    const dead: number[] = [];
    run({
      spec: { ...spec, maxDeliver: 3 },
      concurrency: 1,
      handle: sync(() => {
        calls++;
        throw new Error("connection reset");
      }),
      onDead: sync((d) => void dead.push(d.deliveryCount)),
    });
    await publish(1);
    await settledAll(spec, 1);
    expect(calls).toBe(3);
    expect(dead).toEqual([3]);
  });

  it("retries dead-lettering that failed, without running the handler again", async () => {
    const { spec, publish } = scenario();
    let calls = 0;
    const deadAttempts: number[] = [];
    run({
      spec: { ...spec, maxDeliver: 1 },
      concurrency: 1,
      handle: sync(() => {
        calls++;
        throw new TerminalError("bad payload");
      }),
      onDead: sync((d) => {
        deadAttempts.push(d.deliveryCount);
        if (deadAttempts.length === 1) throw new Error("DLQ unreachable");
      }),
    });
    await publish(1);
    await settledAll(spec, 1);
    expect(calls).toBe(1);
    expect(deadAttempts).toEqual([1, 2]);
  });

  it("stop() waits for the handler in flight, then acks it", async () => {
    const { spec, publish } = scenario();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = false;
    let finished = false;
    const runner = run({
      spec,
      concurrency: 1,
      handle: async () => {
        started = true;
        await gate;
        finished = true;
      },
    });
    await publish(1);
    await waitFor(() => started, { ...WAIT, what: "handler started" });

    let stopped = false;
    const stopping = runner.stop().then(() => (stopped = true));
    for (let i = 0; i < 20; i++) await tick();
    expect(runner.state).toBe("stopping");
    expect(stopped).toBe(false);

    release();
    await stopping;
    expect(finished).toBe(true);
    expect(runner.state).toBe("stopped");
    await runner.done;
    await settledAll(spec, 1);
  });

  it("stop(signal) gives up on a stuck handler when the signal aborts, and aborts its signal", async () => {
    const { spec, publish } = scenario();
    let handlerSignal: AbortSignal | undefined;
    const runner = run({
      spec,
      concurrency: 1,
      handle: (_d, ctx) => {
        handlerSignal = ctx.signal;
        return new Promise(() => undefined); // never settles
      },
    });
    await publish(1);
    await waitFor(() => handlerSignal, { ...WAIT, what: "handler started" });
    const giveUp = new AbortController();
    const stopping = runner.stop(giveUp.signal);
    expect(handlerSignal?.aborted).toBe(false);
    giveUp.abort();
    await stopping;
    expect(runner.state).toBe("stopped");
    expect(handlerSignal?.aborted).toBe(true);
  });

  it("re-creates its consumer when someone deletes it", async () => {
    const { spec, publish } = scenario();
    const seen: string[] = [];
    run({ spec, concurrency: 1, handle: sync((d) => void seen.push(text(d))) });
    await publish(1);
    await waitFor(() => seen.length === 1, { ...WAIT, what: "first message" });

    const jsm = await bus.jsm();
    await jsm.consumers.delete(spec.stream, spec.durable);
    await waitFor(() => jsm.consumers.info(spec.stream, spec.durable), {
      ...WAIT,
      what: "consumer re-created",
    });
    await publish(1);
    await waitFor(() => seen.includes("1"), { timeoutMs: 60_000, what: "message after re-creation" });
  }, 90_000);

  it("stops cleanly after its connection was drained under it", async () => {
    const { spec } = scenario();
    const own = await connectBus({
      servers: nats.url,
      name: "bus-drained-test",
      log,
      namespace: bus.names.namespace,
    });
    const runner = startConsumer({ bus: own, log, spec, concurrency: 1, handle: () => Promise.resolve() });
    await waitFor(() => runner.state === "running", { ...WAIT, what: "consumer running" });
    await own.drain();
    await runner.stop(AbortSignal.timeout(10_000));
    expect(runner.state).toBe("stopped");
  });
});

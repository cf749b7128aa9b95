import { createLogger } from "@herald/runtime";
import { startNats, waitFor } from "@herald/testkit";
import type { NatsFixture } from "@herald/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus } from "./connection.js";
import type { Bus } from "./connection.js";
import { startConsumer } from "./consume.js";
import type { ConsumerRunner } from "./consume.js";
import { publishEvent } from "./publish.js";
import { applyTopology } from "./topology.js";

const log = createLogger({ service: "bus-test", level: process.env["LOG_LEVEL"] ?? "silent" });
// Stopping the server needs a NATS of this test's own; a shared NATS_URL server cannot be restarted.
const sharedNats = process.env["NATS_URL"] !== undefined && process.env["HERALD_TEST_NATS"] !== "local";

describe.skipIf(sharedNats)("after the NATS server restarts", () => {
  let nats: NatsFixture;
  let bus: Bus;
  let runner: ConsumerRunner | undefined;

  beforeAll(async () => {
    nats = await startNats();
    bus = await connectBus({ servers: nats.url, name: "bus-reconnect-test", log });
    await applyTopology(bus, { replicas: 1 });
  });

  afterAll(async () => {
    await runner?.stop(AbortSignal.timeout(5_000));
    await bus?.drain();
    await nats?.stop();
  });

  it("reports the outage through isConnected() and keeps consuming afterwards", async () => {
    const seen: string[] = [];
    runner = startConsumer({
      bus,
      log,
      spec: {
        stream: bus.names.streams.events,
        durable: "restart",
        filterSubject: bus.names.subjects.events("app1"),
      },
      concurrency: 2,
      handle: (d) => {
        seen.push(new TextDecoder().decode(d.data));
        return Promise.resolve();
      },
    });
    const publish = (body: string): Promise<unknown> =>
      publishEvent(
        bus,
        bus.names.subjects.event({ lane: "conn", partition: 0, appId: "app1", type: "conn.online" }),
        new TextEncoder().encode(body),
        {
          msgId: body,
          timeoutMs: 2_000,
        },
      );

    await publish("before");
    await waitFor(() => seen.includes("before"), { timeoutMs: 20_000, what: "message before the restart" });
    expect(bus.isConnected()).toBe(true);

    await nats.kill();
    await waitFor(() => !bus.isConnected(), { timeoutMs: 20_000, what: "bus to notice the outage" });
    await nats.start();
    await waitFor(() => bus.isConnected(), { timeoutMs: 30_000, what: "bus to reconnect" });

    // JetStream may need a moment after the restart before it takes publishes again.
    await waitFor(() => publish("after").then(() => true), {
      timeoutMs: 30_000,
      what: "publish after restart",
    });
    await waitFor(() => seen.includes("after"), { timeoutMs: 60_000, what: "message after the restart" });
    expect(runner.state).toBe("running");
  }, 150_000);
});

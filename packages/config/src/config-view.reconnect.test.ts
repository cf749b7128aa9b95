import { applyTopology, connectBus } from "@herald/bus";
import type { Bus } from "@herald/bus";
import { startNats, waitFor } from "@herald/testkit";
import type { NatsFixture } from "@herald/testkit";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { putApp, validateAppConfig, watchConfig } from "./index.js";
import type { AppConfig, ConfigView } from "./index.js";

const log = pino({ level: process.env["LOG_LEVEL"] ?? "silent" });
// Stopping the server needs a NATS of this test's own; a shared NATS_URL server cannot be restarted.
const sharedNats = process.env["NATS_URL"] !== undefined && process.env["HERALD_TEST_NATS"] !== "local";

function app(timeout: number): AppConfig {
  return validateAppConfig({
    appId: "app1",
    openim: { url: "http://127.0.0.1:10006/cb", hooks: { beforeSendSingleMsg: { timeout } } },
  });
}

describe.skipIf(sharedNats)("the CONFIG view after the NATS server restarts", () => {
  let nats: NatsFixture;
  let bus: Bus;
  let view: ConfigView | undefined;

  beforeAll(async () => {
    nats = await startNats({ source: "local" });
    bus = await connectBus({ servers: nats.url, name: "config-reconnect-test", log });
    await applyTopology(bus, { replicas: 1 });
  });

  afterAll(async () => {
    await view?.close();
    await bus?.drain();
    await nats?.stop();
  });

  it("still sees changes made after the restart", async () => {
    await putApp(bus, app(3));
    view = await watchConfig(bus, log);
    const timeout = (): number | undefined =>
      view?.app("app1")?.openim?.hooks["beforeSendSingleMsg"]?.timeout;
    expect(timeout()).toBe(3);

    await nats.kill();
    await waitFor(() => !bus.isConnected(), { timeoutMs: 20_000, what: "bus to notice the outage" });
    await nats.start();
    await waitFor(() => bus.isConnected(), { timeoutMs: 30_000, what: "bus to reconnect" });
    // JetStream may need a moment after the restart before it takes writes again.
    await waitFor(() => putApp(bus, app(8)).then(() => true), {
      timeoutMs: 30_000,
      what: "a put after restart",
    });
    await waitFor(() => timeout() === 8, { timeoutMs: 60_000, what: "the change made after the restart" });
  }, 150_000);
});

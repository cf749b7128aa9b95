import { randomBytes } from "node:crypto";
import { RetryableError, createLogger } from "@herald/runtime";
import { startNats } from "@herald/testkit";
import type { NatsFixture } from "@herald/testkit";
import { RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusConnectError, connectBus } from "./connection.js";
import type { Bus } from "./connection.js";
import { publishEvent } from "./publish.js";
import { applyTopology } from "./topology.js";

const log = createLogger({ service: "bus-test", level: process.env["LOG_LEVEL"] ?? "silent" });
let nats: NatsFixture;
const buses: Bus[] = [];

// Each test gets its own namespace, so it starts from no streams at all.
async function freshBus(): Promise<Bus> {
  const namespace = `${nats.namespace}${randomBytes(2).toString("hex")}`;
  const bus = await connectBus({ servers: nats.url, name: "bus-test", log, namespace });
  buses.push(bus);
  return bus;
}

async function sameNamespace(bus: Bus): Promise<Bus> {
  const other = await connectBus({
    servers: nats.url,
    name: "bus-test-2",
    log,
    namespace: bus.names.namespace,
  });
  buses.push(other);
  return other;
}

beforeAll(async () => {
  nats = await startNats();
});

afterAll(async () => {
  await Promise.all(buses.map((b) => b.drain()));
  await nats?.stop();
});

describe("applyTopology", () => {
  it("creates the three streams and the CONFIG bucket, and a second run changes nothing", async () => {
    const bus = await freshBus();
    await applyTopology(bus, { replicas: 1 });
    const jsm = await bus.jsm();
    const before = await jsm.streams.info(bus.names.streams.events);
    await applyTopology(bus, { replicas: 1 });
    const after = await jsm.streams.info(bus.names.streams.events);
    expect(after.created).toBe(before.created);

    const events = after.config;
    expect(events.subjects).toEqual([bus.names.subjects.events()]);
    expect(events.storage).toBe(StorageType.File);
    expect(events.retention).toBe(RetentionPolicy.Limits);
    expect(events.duplicate_window).toBe(nanos(120_000));

    const deliveries = (await jsm.streams.info(bus.names.streams.deliveries)).config;
    expect(deliveries.subjects).toEqual([bus.names.subjects.deliveries()]);
    expect(deliveries.retention).toBe(RetentionPolicy.Workqueue);

    const attempts = (await jsm.streams.info(bus.names.streams.attempts)).config;
    expect(attempts.subjects).toEqual([bus.names.subjects.attempts()]);
    expect(attempts.max_age).toBe(nanos(7 * 24 * 3600 * 1000));

    const kv = await bus.kv(bus.names.buckets.config);
    expect((await kv.status()).history).toBe(5);
    const presence = await bus.kv(bus.names.buckets.presence);
    expect((await presence.status()).history).toBe(1);
    const rooms = await bus.kv(bus.names.buckets.rooms);
    expect((await rooms.status()).history).toBe(1);
  });

  it("is safe to run from two connections at once", async () => {
    const a = await freshBus();
    const b = await sameNamespace(a);
    await Promise.all([applyTopology(a, { replicas: 1 }), applyTopology(b, { replicas: 1 })]);
    const jsm = await a.jsm();
    for (const name of Object.values(a.names.streams)) {
      expect((await jsm.streams.info(name)).config.name).toBe(name);
    }
    await expect(b.kv(a.names.buckets.config)).resolves.toBeDefined();
  });

  it("updates a stream whose settings drifted", async () => {
    const bus = await freshBus();
    await applyTopology(bus, { replicas: 1 });
    const jsm = await bus.jsm();
    const name = bus.names.streams.attempts;
    await jsm.streams.update(name, { max_age: nanos(3_600_000) });
    expect((await jsm.streams.info(name)).config.max_age).toBe(nanos(3_600_000));

    await applyTopology(bus, { replicas: 1 });
    expect((await jsm.streams.info(name)).config.max_age).toBe(nanos(7 * 24 * 3600 * 1000));
  });
});

describe("publishEvent", () => {
  it("stores a repeated msgId once and says it was a duplicate", async () => {
    const bus = await freshBus();
    await applyTopology(bus, { replicas: 1 });
    const subject = bus.names.subjects.event("app1", "conn.online");
    const data = new TextEncoder().encode("{}");
    const first = await publishEvent(bus, subject, data, {
      msgId: "ev-1",
      headers: { "Herald-App": "app1" },
    });
    const second = await publishEvent(bus, subject, data, { msgId: "ev-1" });
    expect(first).toMatchObject({ duplicate: false, stream: bus.names.streams.events });
    expect(second).toEqual({ ...first, duplicate: true });

    const jsm = await bus.jsm();
    expect((await jsm.streams.info(bus.names.streams.events)).state.messages).toBe(1);
    const stored = await jsm.streams.getMessage(bus.names.streams.events, { seq: first.seq });
    expect(stored?.header.get("Herald-App")).toBe("app1");
  });

  it("reports a subject no stream listens on as retryable", async () => {
    const bus = await freshBus();
    const err: unknown = await publishEvent(bus, bus.names.subjects.attempt("app1"), new Uint8Array(), {
      msgId: "x",
      timeoutMs: 2_000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableError);
  });
});

describe("connectBus", () => {
  it("fails with BusConnectError when NATS never answers", async () => {
    const err: unknown = await connectBus({
      servers: "127.0.0.1:1",
      name: "bus-test",
      log,
      connectTimeoutMs: 1_500,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BusConnectError);
  });

  it("is connected once connected, and drain() can be called twice", async () => {
    const bus = await connectBus({ servers: nats.url, name: "bus-test", log });
    expect(bus.isConnected()).toBe(true);
    await Promise.all([bus.drain(), bus.drain()]);
    await bus.closed();
    expect(bus.isConnected()).toBe(false);
    await bus.drain();
  });
});

import { randomBytes } from "node:crypto";
import { Event } from "@herald/proto";
import { RetryableError, baseEnvSchema, createLogger, loadConfig } from "@herald/runtime";
import { startNats } from "@herald/testkit";
import type { NatsFixture } from "@herald/testkit";
import { RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusConnectError, connectBus } from "./connection.js";
import type { Bus } from "./connection.js";
import { publishEvent } from "./publish.js";
import { DEFAULT_PARTITIONS } from "./partitions.js";
import { startBus } from "./start.js";
import { COPY_HEADER, eventPartition, isCopy, storeEvent } from "./stored-event.js";
import { EventsLayoutError, applyTopology, streamConfigs } from "./topology.js";

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
    // EVENT_DEDUP_WINDOW's default; Herald's own streams keep JetStream's 2 minutes.
    expect(events.duplicate_window).toBe(nanos(600_000));

    const deliveries = (await jsm.streams.info(bus.names.streams.deliveries)).config;
    expect(deliveries.subjects).toEqual([bus.names.subjects.jobs(), bus.names.subjects.legacyJobs()]);
    expect(deliveries.retention).toBe(RetentionPolicy.Workqueue);
    expect(deliveries.duplicate_window).toBe(nanos(120_000));

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

  it("gives EVENTS the duplicate window of EVENT_DEDUP_WINDOW (startBus), updating one made with another", async () => {
    const bus = await freshBus();
    // As a Herald before EVENT_DEDUP_WINDOW left it: JetStream's 2 minutes.
    await applyTopology(bus, { replicas: 1, eventDedupWindowMs: 120_000 });
    const jsm = await bus.jsm();
    const window = async () => (await jsm.streams.info(bus.names.streams.events)).config.duplicate_window;
    expect(await window()).toBe(nanos(120_000));

    const env = { NATS_URL: nats.url, HERALD_NAMESPACE: bus.names.namespace };
    buses.push(await startBus({ config: loadConfig(baseEnvSchema, env), name: "bus-test", log }));
    expect(await window()).toBe(nanos(600_000));
    const config = loadConfig(baseEnvSchema, { ...env, EVENT_DEDUP_WINDOW: "1h" });
    buses.push(await startBus({ config, name: "bus-test", log }));
    expect(await window()).toBe(nanos(3_600_000));
  });
});

describe("the EVENTS layout", () => {
  const description = (partitions: number) =>
    new RegExp(`^Herald events, layout 2, ${partitions} partitions\\b`);
  const eventsConfig = async (bus: Bus) =>
    (await (await bus.jsm()).streams.info(bus.names.streams.events)).config;

  it("writes the partition count into a new EVENTS and learns it: 16 by default", async () => {
    const bus = await freshBus();
    expect(bus.layout.known).toBe(false);
    await applyTopology(bus, { replicas: 1 });
    expect(bus.layout.partitions).toBe(DEFAULT_PARTITIONS);
    expect((await eventsConfig(bus)).description).toMatch(description(16));

    // Another service of the same deployment that asks for nothing learns the stream's count.
    const other = await sameNamespace(bus);
    await applyTopology(other, { replicas: 1 });
    expect(other.layout.partitions).toBe(16);
  });

  it("takes the count from HERALD_PARTITIONS (startBus) or opts.partitions when it creates EVENTS", async () => {
    const namespace = `${nats.namespace}${randomBytes(2).toString("hex")}`;
    const config = loadConfig(baseEnvSchema, {
      NATS_URL: nats.url,
      HERALD_NAMESPACE: namespace,
      HERALD_PARTITIONS: "8",
    });
    const started = await startBus({ config, name: "bus-test", log });
    buses.push(started);
    expect(started.layout.partitions).toBe(8);
    expect((await eventsConfig(started)).description).toMatch(description(8));

    const bus = await freshBus();
    await applyTopology(bus, { replicas: 1, partitions: 3 });
    expect(bus.layout.partitions).toBe(3);
    expect((await eventsConfig(bus)).description).toMatch(description(3));
  });

  it("refuses an EVENTS laid out in another partition count than asked for", async () => {
    const bus = await freshBus();
    await applyTopology(bus, { replicas: 1, partitions: 4 });
    const other = await sameNamespace(bus);
    const err: unknown = await applyTopology(other, { replicas: 1, partitions: 8 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EventsLayoutError);
    expect((err as EventsLayoutError).stream).toBe(bus.names.streams.events);
    expect((err as Error).message).toMatch(/4 partitions.*asks for 8/);
    expect(other.layout.known).toBe(false);
    expect((await eventsConfig(bus)).description).toMatch(description(4));
  });

  // An EVENTS as the Herald before partitions declared it: no description.
  async function oldEvents(bus: Bus): Promise<void> {
    const declared = streamConfigs(bus.names, { replicas: 1 }).find(
      (s) => s.name === bus.names.streams.events,
    );
    const { description: _, ...old } = declared!;
    await (await bus.jsm()).streams.add(old);
  }

  it("gives an empty EVENTS of no layout the layout asked for", async () => {
    const bus = await freshBus();
    await oldEvents(bus);
    expect((await eventsConfig(bus)).description ?? "").toBe("");
    await applyTopology(bus, { replicas: 1, partitions: 5 });
    expect(bus.layout.partitions).toBe(5);
    expect((await eventsConfig(bus)).description).toMatch(description(5));
  });

  it("refuses an EVENTS of no layout that holds events, and leaves it as it was", async () => {
    const bus = await freshBus();
    await oldEvents(bus);
    const root = bus.names.subjects.events().slice(0, -2); // <ns>.herald.ev
    await bus.js.publish(`${root}.app1.conn.online`, new Uint8Array([1]), { msgID: "app1:e1" });
    const err: unknown = await applyTopology(bus, { replicas: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EventsLayoutError);
    expect((err as Error).message).toMatch(
      /holds 1 events stored by a Herald before partitions.*HERALD_NAMESPACE/,
    );
    expect(bus.layout.known).toBe(false);
    const info = await (await bus.jsm()).streams.info(bus.names.streams.events);
    expect(info.config.description ?? "").toBe("");
    expect(info.state.messages).toBe(1);
  });
});

describe("storeEvent", () => {
  const reset = Event.fromPartial({
    id: "r1",
    appId: "app1",
    type: "node.reset",
    payload: { $case: "nodeReset", value: { nodeId: "core-1" } },
  });

  async function stored(bus: Bus) {
    const jsm = await bus.jsm();
    const { state } = await jsm.streams.info(bus.names.streams.events);
    const out = [];
    for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(bus.names.streams.events, { seq });
      if (m === null) throw new Error(`no message at ${seq}`);
      const headers: Record<string, string> = {};
      for (const [k, v] of m.header ?? []) if (v[0] !== undefined) headers[k] = v[0];
      out.push({ subject: m.subject, headers, at: bus.names.subjects.parseEvent(m.subject) });
    }
    return out;
  }

  it("stores a connection event once, in its user's partition of the conn lane", async () => {
    const bus = await freshBus();
    await applyTopology(bus, { replicas: 1, partitions: 4 });
    const online = Event.fromPartial({
      id: "e1",
      appId: "app1",
      type: "conn.online",
      payload: { $case: "connectionOnline", value: { userId: "u1", connId: "c1", nodeId: "core-1" } },
    });
    const ack = await storeEvent(bus, online, { msgId: "app1:e1" });
    expect(ack.duplicate).toBe(false);
    const messages = await stored(bus);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.at).toEqual({
      lane: "conn",
      partition: eventPartition(bus, online),
      appId: "app1",
      type: "conn.online",
    });
    expect(messages[0]?.headers["Nats-Msg-Id"]).toBe("app1:e1");
  });

  it("stores a node.reset in every partition: the original in the node's, a marked copy in each other", async () => {
    const bus = await freshBus();
    await applyTopology(bus, { replicas: 1, partitions: 4 });
    const first = await storeEvent(bus, reset, { msgId: "app1:r1" });
    const again = await storeEvent(bus, reset, { msgId: "app1:r1" });
    expect(again).toEqual({ ...first, duplicate: true });

    const messages = await stored(bus);
    expect(messages.map((m) => m.at?.partition).sort()).toEqual([0, 1, 2, 3]);
    const home = eventPartition(bus, reset);
    const originals = messages.filter((m) => !isCopy(m.headers));
    expect(originals).toHaveLength(1);
    expect(originals[0]?.at?.partition).toBe(home);
    expect(originals[0]?.headers["Nats-Msg-Id"]).toBe("app1:r1");
    for (const copy of messages.filter((m) => isCopy(m.headers))) {
      expect(copy.headers[COPY_HEADER]).toBe(String(home));
      expect(copy.headers["Nats-Msg-Id"]).toBe(`app1:r1#${copy.at?.partition}`);
    }
  });
});

describe("publishEvent", () => {
  it("stores a repeated msgId once and says it was a duplicate", async () => {
    const bus = await freshBus();
    await applyTopology(bus, { replicas: 1 });
    const subject = bus.names.subjects.event({
      lane: "conn",
      partition: 0,
      appId: "app1",
      type: "conn.online",
    });
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

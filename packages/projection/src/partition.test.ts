import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Event } from "@herald/proto";
import { applyTopology, connectBus, encodeKeyToken, partitionOf, storeEvent } from "@herald/bus";
import type { Bus } from "@herald/bus";
import { createLogger } from "@herald/runtime";
import { startNats, waitFor } from "@herald/testkit";
import type { NatsFixture } from "@herald/testkit";
import { Kvm } from "@nats-io/kv";
import type { ProjectionDefinition } from "./definition.js";
import { PartitionRunner } from "./partition.js";
import { partitionsBehind } from "./progress.js";

const log = createLogger({ service: "kit-test", level: process.env["LOG_LEVEL"] ?? "silent" });
const APP = "kit";
let nats: NatsFixture;
let bus: Bus;
let bucket: string;

/** Counts each sender's messages and derives one user.online per message, numbered 1, 2, 3... */
interface Count {
  userId: string;
  count: number;
  lastSeq: number;
}

function counting(): ProjectionDefinition<Count> {
  return {
    name: "count",
    lane: "msg",
    bucket,
    stateFilter: (p) => `c.${p}.>`,
    encode: (s) => new TextEncoder().encode(JSON.stringify(s)),
    decode: (_key, data) => JSON.parse(new TextDecoder().decode(data)) as Count,
    apply(ctx, event, stored) {
      const p = event.payload;
      if (p?.$case !== "messageSent") return;
      const userId = p.value.fromUserId;
      if (userId === "boom") throw new Error("a fold with a bug");
      const key = `c.${ctx.partition}.${encodeKeyToken(userId)}`;
      const state = ctx.get(key) ?? { userId, count: 0, lastSeq: 0 };
      if (stored.seq <= state.lastSeq) return; // folded already (a batch redone)
      const next = { userId, count: state.count + 1, lastSeq: stored.seq };
      ctx.set(key, next);
      ctx.publish(
        Event.fromPartial({
          id: `${APP}:${userId}:presence:${next.count}`,
          appId: APP,
          type: "user.online",
          occurredAt: new Date(stored.time),
          payload: { $case: "userOnline", value: { userId, seq: next.count } },
        }),
      );
    },
  };
}

beforeAll(async () => {
  nats = await startNats();
  bus = await connectBus({ servers: nats.url, name: "kit-test", log, namespace: nats.namespace });
  await applyTopology(bus, { replicas: 1, partitions: 2 });
  bucket = `${nats.namespace}_COUNT`;
  await new Kvm(bus.js).create(bucket, { history: 1 });
});

afterAll(async () => {
  await bus?.drain();
  await nats?.stop();
});

let n = 0;
async function send(userId: string): Promise<void> {
  const event = Event.fromPartial({
    id: `m${++n}`,
    appId: APP,
    type: "msg.sent",
    payload: { $case: "messageSent", value: { fromUserId: userId, messageId: `m${n}` } },
  });
  await storeEvent(bus, event, { msgId: `${APP}:${event.id}` });
}

/** The user.online ids stored for a user, in stream order. */
async function derived(userId: string): Promise<string[]> {
  const subject = bus.names.subjects.event({
    lane: "user",
    partition: partitionOf(APP, userId, 2),
    appId: APP,
    type: "user.online",
  });
  const ids: string[] = [];
  const consumer = await bus.js.consumers.get(bus.names.streams.events, { filter_subjects: subject });
  const info = await consumer.info();
  if (info.num_pending === 0) return ids;
  const messages = await consumer.consume();
  for await (const m of messages) {
    const e = Event.decode(m.data);
    if (e.payload?.$case === "userOnline" && e.payload.value.userId === userId) ids.push(e.id);
    if (m.info.pending === 0) break;
  }
  await messages.close();
  return ids;
}

describe("a partition written by two runners at once (ownership broken on purpose)", () => {
  it("loses nothing, repeats nothing and never lets a state go back", async () => {
    const users = ["ann", "李雷", "🦊", "bo", "cy"];
    const partition = partitionOf(APP, "ann", 2);
    const mine = users.filter((u) => partitionOf(APP, u, 2) === partition);
    const runner = (id: string) =>
      new PartitionRunner({
        bus,
        kv: await_kv,
        def: counting(),
        partition,
        instanceId: id,
        // Always valid: only the checkpoint and state compare-and-set keep the two apart.
        lease: { valid: () => true },
        log,
        maxBatch: 7,
      });
    const await_kv = await bus.kv(bucket);
    const a = runner("a");
    for (let i = 0; i < 30; i++) for (const u of mine) await send(u);
    const b = runner("b");
    // Both fold and write the same partition while more arrives.
    await Promise.all(
      mine.map(async (u) => {
        for (let i = 0; i < 40; i++) await send(u);
      }),
    );
    await waitFor(
      async () => (await partitionsBehind(bus, { name: "count", lane: "msg", bucket })).length === 0,
      {
        timeoutMs: 30_000,
        what: "the partition's checkpoint to cover every message",
      },
    );
    await Promise.all([a.stop(true), b.stop(true)]);
    const kv = await bus.kv(bucket);
    for (const u of mine) {
      const entry = await kv.get(`c.${partition}.${encodeKeyToken(u)}`);
      expect((JSON.parse(entry?.string() ?? "{}") as Count).count).toBe(70);
      const ids = await derived(u);
      expect(ids).toEqual(Array.from({ length: 70 }, (_, i) => `${APP}:${u}:presence:${i + 1}`));
    }
  });
});

describe("a partition with a message it cannot fold", () => {
  it("skips a message that does not decode and an event its fold throws on, and goes on past both", async () => {
    const partition = partitionOf(APP, "dee", 2);
    const kv = await bus.kv(bucket);
    const runner = new PartitionRunner({
      bus,
      kv,
      def: counting(),
      partition,
      instanceId: "skip",
      lease: { valid: () => true },
      log,
    });
    const garbage = bus.names.subjects.event({ lane: "msg", partition, appId: APP, type: "msg.sent" });
    await bus.js.publish(garbage, new Uint8Array([0xff, 0xff, 0xff, 0x07]));
    const boom = partitionOf(APP, "boom", 2) === partition;
    if (boom) await send("boom");
    await send("dee");
    await send("dee");
    // The last stored message of the lane partition is a garbage one: the checkpoint must pass it too.
    await bus.js.publish(garbage, new Uint8Array([0xff]));
    await waitFor(
      async () => (await partitionsBehind(bus, { name: "count", lane: "msg", bucket })).length === 0,
      {
        timeoutMs: 30_000,
        what: "the checkpoint to pass the messages that cannot be folded",
      },
    );
    await runner.stop(true);
    const entry = await kv.get(`c.${partition}.dee`);
    expect((JSON.parse(entry?.string() ?? "{}") as Count).count).toBe(2);
  });
});

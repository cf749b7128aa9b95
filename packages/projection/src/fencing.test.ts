import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Event } from "@herald/proto";
import { applyTopology, connectBus, encodeKeyToken, partitionOf, storeEvent } from "@herald/bus";
import type { Bus } from "@herald/bus";
import { createLogger } from "@herald/runtime";
import { startNats } from "@herald/testkit";
import type { NatsFixture } from "@herald/testkit";
import { Kvm } from "@nats-io/kv";
import { kitKeys } from "./checkpoint.js";
import type { ProjectionDefinition } from "./definition.js";
import { PartitionRunner } from "./partition.js";

const log = createLogger({ service: "fencing-test", level: process.env["LOG_LEVEL"] ?? "silent" });
const APP = "fence";
const NAME = "fence";
let nats: NatsFixture;
let bus: Bus;
let bucket: string;

beforeAll(async () => {
  nats = await startNats();
  bus = await connectBus({ servers: nats.url, name: "fencing-test", log, namespace: nats.namespace });
  await applyTopology(bus, { replicas: 1, partitions: 2 });
  bucket = `${nats.namespace}_FENCE`;
  await new Kvm(bus.js).create(bucket, { history: 1 });
});

afterAll(async () => {
  await bus?.drain();
  await nats?.stop();
});

/** One user.online per message of a sender, numbered 1, 2, 3... */
function numbering(): ProjectionDefinition<number> {
  return {
    name: NAME,
    lane: "msg",
    bucket,
    stateFilter: (p) => `n.${p}.>`,
    encode: (s) => new TextEncoder().encode(String(s)),
    decode: (_key, data) => Number(new TextDecoder().decode(data)),
    apply(ctx, event) {
      const p = event.payload;
      if (p?.$case !== "messageSent") return;
      const userId = p.value.fromUserId;
      const key = `n.${ctx.partition}.${encodeKeyToken(userId)}`;
      const next = (ctx.get(key) ?? 0) + 1;
      ctx.set(key, next);
      ctx.publish(
        Event.fromPartial({
          id: `${APP}:${userId}:presence:${next}`,
          appId: APP,
          type: "user.online",
          payload: { $case: "userOnline", value: { userId, seq: next } },
        }),
      );
    },
  };
}

describe("a runner whose lease ran out while its checkpoint was being written", () => {
  it("publishes none of the batch's derived events", async () => {
    const userId = "李雷";
    const partition = partitionOf(APP, userId, 2);
    for (let i = 1; i <= 3; i++) {
      const event = Event.fromPartial({
        id: `m${i}`,
        appId: APP,
        type: "msg.sent",
        payload: { $case: "messageSent", value: { fromUserId: userId, messageId: `m${i}` } },
      });
      await storeEvent(bus, event, { msgId: `${APP}:${event.id}` });
    }
    const kv = await bus.kv(bucket);
    let valid = true;
    // The checkpoint write is answered only after the lease ran out: the replica was paused (or cut
    // off from NATS) while the write was in flight, and another replica took the partition meanwhile.
    const paused = new Proxy(kv, {
      get(target, prop) {
        if (prop === "create" || prop === "update") {
          return async (key: string, ...rest: unknown[]) => {
            const write = Reflect.get(target, prop, target) as (...args: unknown[]) => Promise<number>;
            const revision = await write.call(target, key, ...rest);
            if (key === kitKeys.checkpoint(NAME, partition)) valid = false;
            return revision;
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const runner = new PartitionRunner({
      bus,
      kv: paused,
      def: numbering(),
      partition,
      instanceId: "paused",
      lease: { valid: () => valid },
      log,
    });
    await runner.finished;
    expect(valid).toBe(false);
    const jsm = await bus.jsm();
    const lane = bus.names.subjects.lane("user", partition);
    const last = await jsm.streams
      .getMessage(bus.names.streams.events, { last_by_subj: lane })
      .catch(() => null);
    expect(last?.subject).toBeUndefined();
  });
});

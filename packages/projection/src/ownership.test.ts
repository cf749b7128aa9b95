import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyTopology, connectBus } from "@herald/bus";
import type { Bus } from "@herald/bus";
import { createLogger } from "@herald/runtime";
import { startNats, waitFor } from "@herald/testkit";
import type { NatsFixture } from "@herald/testkit";
import { Kvm } from "@nats-io/kv";
import { kitKeys } from "./checkpoint.js";
import { Ownership } from "./ownership.js";

const log = createLogger({ service: "ownership-test", level: process.env["LOG_LEVEL"] ?? "silent" });
const NAME = "own";
const LEASE_MS = 1_000;
let nats: NatsFixture;
let bus: Bus;

beforeAll(async () => {
  nats = await startNats();
  bus = await connectBus({ servers: nats.url, name: "ownership-test", log, namespace: nats.namespace });
  await applyTopology(bus, { replicas: 1, partitions: 2 });
});

afterAll(async () => {
  await bus?.drain();
  await nats?.stop();
});

describe("Ownership on a real NATS", () => {
  it("never claims a lease at a revision written after it judged the lease dead", async () => {
    const bucket = `${nats.namespace}_OWN`;
    const kv = await new Kvm(bus.js).create(bucket, { history: 1 });
    // Both partitions leased by a replica that is long gone.
    for (const p of [0, 1]) await kv.put(kitKeys.lease(NAME, p), JSON.stringify({ owner: "gone" }));
    const writes: { partition: number; owner: string; at: number }[] = [];
    const watch = await kv.watch({ key: kitKeys.leases(NAME) });
    void (async () => {
      for await (const e of watch) {
        if (e.operation !== "PUT") continue;
        const owner = (JSON.parse(e.string()) as { owner: string }).owner;
        writes.push({ partition: kitKeys.partitionOf(e.key), owner, at: e.created.getTime() });
      }
    })();

    const claimant: { ownership?: Ownership } = {};
    // What the claimant's watch has seen of partition 1's lease (private: the race is inside one round).
    const seenRevision = () =>
      (
        claimant.ownership as unknown as { leases: Map<number, { revision: number }> } | undefined
      )?.leases.get(1)?.revision;
    let revived = false;
    // The claimant's bucket, with its first claim held until a live replica has taken partition 1 and
    // the claimant's watch has brought that write in: as after a pause, or with a slow first claim.
    const racing = new Proxy(kv, {
      get(target, prop) {
        if (prop === "update") {
          return async (key: string, value: string, revision: number) => {
            if (!revived && key === kitKeys.lease(NAME, 0)) {
              revived = true;
              const fresh = await target.put(kitKeys.lease(NAME, 1), JSON.stringify({ owner: "live" }));
              await waitFor(() => seenRevision() === fresh, { what: "the claimant to see the live lease" });
            }
            return target.update(key, value, revision);
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });

    const ownership = new Ownership({
      bus,
      bucket,
      kv: racing,
      name: NAME,
      instanceId: "claimant",
      partitions: 2,
      leaseMs: LEASE_MS,
      log,
      acquired: () => undefined,
      released: () => Promise.resolve(),
    });
    claimant.ownership = ownership;
    await ownership.start();
    // The live lease is never renewed, so it is the claimant's in the end, but only once dead.
    await waitFor(() => ownership.owned().length === 2, {
      timeoutMs: 10_000,
      what: "both partitions claimed",
    });
    await ownership.stop();
    watch.stop();
    expect(revived).toBe(true);
    const live = writes.find((w) => w.partition === 1 && w.owner === "live");
    const taken = writes.find((w) => w.partition === 1 && w.owner === "claimant");
    expect(live).toBeDefined();
    // Server time, as a protocol bound (a lease passes only after a whole lease unrenewed), not a speed.
    expect((taken?.at ?? 0) - (live?.at ?? 0)).toBeGreaterThanOrEqual(LEASE_MS);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Event } from "@herald/proto";
import { NodeResetReason, UserStatus, type DeepPartial } from "@herald/proto";
import { partitionOf } from "@herald/bus";
import { getUserPresence } from "@herald/presence";
import { PRESENCE_PROJECTION } from "@herald/presence";
import { kitKeys } from "@herald/projection";
import { waitFor } from "@herald/testkit";
import { startDeliveryStack, type DeliveryStack } from "./delivery-fixture.js";
import { startService, type ServiceProcess } from "./harness.js";
import { configureApps } from "./apps.js";
import { publish } from "./grpc-client.js";
import { storedEvents, type StoredEvent } from "./stream-contents.js";

// Chat-core node leases with real processes: a gateway, two presence replicas (no deliverer), a real
// nats-server.

const MARGIN_MS = 1_000;
let stack: DeliveryStack;
let n = 0;

beforeAll(async () => {
  stack = await startDeliveryStack({
    env: {
      PRESENCE_NODE_LEASE_MARGIN_MS: String(MARGIN_MS),
      // A killed replica's partitions move soon.
      PROJECTION_LEASE_MS: "3000",
    },
    also: ["presence", "presence"],
    deliverers: 0,
  });
  await configureApps(stack.env, ["silent", "beating", "killed"]);
});

afterAll(async () => {
  await stack?.stop();
});

function event(appId: string, payload: DeepPartial<Event>["payload"]): DeepPartial<Event> {
  n += 1;
  return { id: `nl-${process.pid}-${n}`, appId, operationId: `op-${n}`, payload };
}

const heartbeat = (appId: string, nodeId: string, leaseSeconds: number) =>
  publish(stack.client, [
    event(appId, { $case: "nodeHeartbeat", value: { nodeId, lease: { seconds: leaseSeconds } } }),
  ]);
const online = (appId: string, userId: string, connId: string, nodeId: string) =>
  publish(stack.client, [
    event(appId, { $case: "connectionOnline", value: { userId, connId, nodeId, platformId: 1 } }),
  ]);

const ofType = async (appId: string, type: string) =>
  (await storedEvents(stack.bus, appId)).filter((s) => s.event.type === type);

function resetOf(s: StoredEvent) {
  if (s.event.payload?.$case !== "nodeReset") throw new Error(`${s.event.type} is not a node.reset`);
  return s.event.payload.value;
}

function offlineOf(s: StoredEvent) {
  if (s.event.payload?.$case !== "userOffline") throw new Error(`${s.event.type} is not a user.offline`);
  return s.event.payload.value;
}

describe("chat-core node leases", () => {
  it("takes each user whose last connection was on a silent node offline once, after lease and margin", async () => {
    const app = "silent";
    const node = "节点-1🚀";
    const users = ["用户-甲", "user-😀", "ユーザー", "u-4"];
    await heartbeat(app, node, 1);
    for (const [i, user] of users.entries()) await online(app, user, `c-${i}`, node);
    await online(app, "two-nodes", "t1", node);
    await online(app, "two-nodes", "t2", "core-2");

    await waitFor(async () => (await ofType(app, "user.offline")).length >= users.length, {
      timeoutMs: 30_000,
      what: "the silent node's users to go offline",
    });
    const all = await storedEvents(stack.bus, app);
    const beat = all.find((s) => s.event.type === "node.heartbeat") as StoredEvent;
    const resets = all.filter((s) => s.event.type === "node.reset");
    expect(resets).toHaveLength(1);
    const reset = resets[0] as StoredEvent;
    expect(resetOf(reset)).toMatchObject({
      nodeId: node,
      reason: NodeResetReason.NODE_RESET_REASON_LEASE_EXPIRED,
      lease: { seconds: 1, nanos: 0 },
    });
    // Not before: the stream's clock had passed the last heartbeat plus lease and margin.
    expect(reset.time).toBeGreaterThanOrEqual(beat.time + 1_000 + MARGIN_MS);
    const offlines = all.filter((s) => s.event.type === "user.offline").map(offlineOf);
    expect(offlines.map((o) => o.userId).sort()).toEqual([...users].sort());
    for (const o of offlines) {
      expect(o).toMatchObject({
        nodeId: node,
        nodeReset: true,
        nodeResetReason: NodeResetReason.NODE_RESET_REASON_LEASE_EXPIRED,
      });
    }
    const both = await getUserPresence(stack.bus, app, "two-nodes");
    expect(both?.status).toBe(UserStatus.USER_STATUS_ONLINE);
    expect(both?.connections.map((c) => c.nodeId)).toEqual(["core-2"]);
  });

  it("keeps a node whose heartbeats come in time", async () => {
    const app = "beating";
    const node = "core-💓";
    await heartbeat(app, node, 3);
    await online(app, "kept", "k1", node);
    // A node that beats once, with the same lease: its reset says that lease and margin have passed.
    await heartbeat(app, "marker", 3);
    await online(app, "marker-user", "m1", "marker");
    let beating = true;
    const beats = (async () => {
      while (beating) {
        await heartbeat(app, node, 3);
        // A chat core beats every lease/3 or so; this one, every 300 ms of a 3 s lease (slack for a loaded machine).
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    })();
    try {
      await waitFor(async () => (await ofType(app, "node.reset")).length > 0, {
        timeoutMs: 30_000,
        what: "the marker node's lease to run out",
      });
      // And one more whole lease and margin past it, by the stream's clock.
      const first = (await ofType(app, "node.reset"))[0] as StoredEvent;
      await heartbeat(app, "marker", 3);
      await waitFor(async () => (await ofType(app, "node.reset")).length > 1, {
        timeoutMs: 30_000,
        what: "the marker node's second lease to run out",
      });
      expect(((await ofType(app, "node.reset"))[1] as StoredEvent).time).toBeGreaterThan(first.time);
    } finally {
      beating = false;
      await beats;
    }
    const resets = (await ofType(app, "node.reset")).map(resetOf);
    expect(resets.map((r) => r.nodeId)).toEqual(["marker", "marker"]);
    expect((await ofType(app, "user.offline")).map((s) => offlineOf(s).userId)).toEqual(["marker-user"]);
    expect((await getUserPresence(stack.bus, app, "kept"))?.status).toBe(UserStatus.USER_STATUS_ONLINE);
  });

  it("resets exactly once when the owner of the node's partition is SIGKILLed while the lease runs out", async () => {
    const app = "killed";
    const node = "core-☠️";
    const users = Array.from({ length: 12 }, (_, i) => `用户-${i}`);
    await heartbeat(app, node, 3);
    await Promise.all(users.map((u, i) => online(app, u, `c${i}`, node)));
    // The replica that holds the node's partition, by the lease it wrote (its instance id holds its pid).
    const kv = await stack.bus.kv(stack.bus.names.buckets.presence);
    const partition = partitionOf(app, node, stack.bus.layout.partitions);
    const lease = await kv.get(kitKeys.lease(PRESENCE_PROJECTION, partition));
    const owner = (lease?.json<{ owner: string }>() ?? { owner: "" }).owner;
    const victim = stack.others.find((p) => owner.includes(`-${p.child.pid}-`));
    expect(victim, `owner ${owner} among the presence replicas`).toBeDefined();
    await (victim as ServiceProcess).stop("SIGKILL");

    await waitFor(async () => (await ofType(app, "user.offline")).length >= users.length, {
      timeoutMs: 60_000,
      what: "the other replica to take the partition over and reset the node",
    });
    // Started again: it takes some partitions back and must not reset the node a second time.
    const again = await startService("presence", stack.env);
    stack.others.push(again);
    await again.waitReady();
    await heartbeat(app, "after", 1);
    await waitFor(async () => (await ofType(app, "node.reset")).some((s) => resetOf(s).nodeId === "after"), {
      timeoutMs: 60_000,
      what: "a later lease to run out, with both replicas up",
    });
    const resets = (await ofType(app, "node.reset")).map(resetOf);
    expect(resets.map((r) => r.nodeId)).toEqual([node, "after"]);
    const offlines = (await ofType(app, "user.offline")).map(offlineOf);
    expect(offlines.map((o) => o.userId).sort()).toEqual([...users].sort());
  }, 120_000);
});

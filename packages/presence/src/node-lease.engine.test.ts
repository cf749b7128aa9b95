import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Event, NodeResetReason, UserStatus, eventType } from "@herald/proto";
import type { DeepPartial } from "@herald/proto";
import { applyTopology, connectBus, storeEvent } from "@herald/bus";
import type { Bus } from "@herald/bus";
import type { ProjectionEngine } from "@herald/projection";
import { createLogger } from "@herald/runtime";
import { startNats, waitFor } from "@herald/testkit";
import type { NatsFixture } from "@herald/testkit";
import { startPresence } from "./engine.js";
import { getUserPresence, listNodes } from "./queries.js";
import { fixedPresenceSettings } from "./settings.js";

// Node leases on a real NATS, presence in this process (test/src/node-leases.test.ts runs the processes).

const log = createLogger({ service: "node-lease-test", level: process.env["LOG_LEVEL"] ?? "silent" });
const LEASE_MS = 1_000;
const MARGIN_MS = 500;
let nats: NatsFixture;
let bus: Bus;
let engine: ProjectionEngine | undefined;
let n = 0;

beforeAll(async () => {
  nats = await startNats();
  bus = await connectBus({ servers: nats.url, name: "node-lease-test", log, namespace: nats.namespace });
  await applyTopology(bus, { replicas: 1, partitions: 8 });
});

afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

afterAll(async () => {
  await bus?.drain();
  await nats?.stop();
});

async function start(clock?: () => number): Promise<void> {
  engine = await startPresence({
    bus,
    log,
    settings: fixedPresenceSettings({ nodeLeaseMarginMs: MARGIN_MS }),
    leaseMs: 2_000,
    ...(clock === undefined ? {} : { clock }),
  });
  await waitFor(() => engine?.owned().length === 8, {
    timeoutMs: 20_000,
    what: "presence to own every partition",
  });
}

async function publish(appId: string, payload: DeepPartial<Event>["payload"]): Promise<number> {
  const partial = Event.fromPartial({ id: `t-${++n}`, appId, operationId: `op-${n}`, payload });
  const event = { ...partial, type: eventType(partial), occurredAt: new Date() };
  const ack = await storeEvent(bus, event, { msgId: `${appId}:${event.id}` });
  return ack.seq;
}

const heartbeat = (appId: string, nodeId: string, leaseMs = LEASE_MS) =>
  publish(appId, {
    $case: "nodeHeartbeat",
    value: { nodeId, lease: { seconds: Math.floor(leaseMs / 1000), nanos: (leaseMs % 1000) * 1_000_000 } },
  });
const online = (appId: string, userId: string, connId: string, nodeId: string) =>
  publish(appId, {
    $case: "connectionOnline",
    value: { userId, connId, nodeId, platformId: 5, platform: "Web" },
  });

interface Stored {
  seq: number;
  time: number;
  event: Event;
  copy: boolean;
}

/** Every message stored in EVENTS for an app, in stream order. */
async function stored(appId: string): Promise<Stored[]> {
  const jsm = await bus.jsm();
  const { state } = await jsm.streams.info(bus.names.streams.events);
  const out: Stored[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const msg = await jsm.streams.getMessage(bus.names.streams.events, { seq }).catch(() => null);
    if (msg === null || bus.names.subjects.parseEvent(msg.subject)?.appId !== appId) continue;
    out.push({
      seq,
      time: msg.time.getTime(),
      event: Event.decode(msg.data),
      copy: msg.header.has("Herald-Copy"),
    });
  }
  return out;
}

const originals = async (appId: string, type: string) =>
  (await stored(appId)).filter((s) => !s.copy && s.event.type === type);

describe("node leases", () => {
  it("resets a silent node once, after its lease and margin, and only the users whose last connection was there", async () => {
    await start();
    const app = "silent";
    const node = "节点-1🚀";
    const users = ["用户-1", "user-😀", "u-3", "ユーザー4", "u-5"];
    const hb = await heartbeat(app, node);
    for (const [i, user] of users.entries()) await online(app, user, `c${i}`, node);
    // Also on another node: stays online through the reset.
    await online(app, "both", "b1", node);
    await online(app, "both", "b2", "other-node");

    await waitFor(async () => (await originals(app, "user.offline")).length === users.length, {
      timeoutMs: 30_000,
      what: "a user.offline for each user whose last connection was on the silent node",
    });
    const all = await stored(app);
    const beat = all.find((s) => s.seq === hb) as Stored;
    const resets = (await originals(app, "node.reset")).map((s) => ({ ...s, reset: s.event.payload }));
    expect(resets).toHaveLength(1);
    const reset = resets[0] as (typeof resets)[number];
    if (reset.reset?.$case !== "nodeReset") throw new Error("not a node.reset");
    expect(reset.reset.value.reason).toBe(NodeResetReason.NODE_RESET_REASON_LEASE_EXPIRED);
    expect(reset.reset.value.lastHeartbeat?.getTime()).toBe(beat.time);
    // Decided by the stream's clock: not before the lease and margin ran out.
    expect(reset.time).toBeGreaterThanOrEqual(beat.time + LEASE_MS + MARGIN_MS);
    const check = all.find(
      (s) => reset.reset?.$case === "nodeReset" && s.seq === reset.reset.value.beforeSeq,
    );
    expect(check?.event.type).toBe("node.lease_check");
    expect(check?.time).toBeGreaterThanOrEqual(beat.time + LEASE_MS + MARGIN_MS);

    const offlines = await originals(app, "user.offline");
    expect(
      offlines.map((s) => s.event.payload?.$case === "userOffline" && s.event.payload.value.userId).sort(),
    ).toEqual([...users].sort());
    for (const s of offlines) {
      if (s.event.payload?.$case !== "userOffline") throw new Error("not a user.offline");
      expect(s.event.payload.value.nodeReset).toBe(true);
      expect(s.event.payload.value.nodeResetReason).toBe(NodeResetReason.NODE_RESET_REASON_LEASE_EXPIRED);
    }
    expect((await getUserPresence(bus, app, "both"))?.status).toBe(UserStatus.USER_STATUS_ONLINE);
    expect((await getUserPresence(bus, app, "both"))?.connections.map((c) => c.nodeId)).toEqual([
      "other-node",
    ]);

    await waitFor(async () => (await listNodes(bus, app)).find((v) => v.nodeId === node)?.connections === 0, {
      timeoutMs: 10_000,
      what: "the node's connection count to drop",
    });
    const nodes = await listNodes(bus, app);
    expect(nodes.find((v) => v.nodeId === node)).toMatchObject({
      status: "expired",
      resetReason: "lease_expired",
      connections: 0,
      leaseMs: 0,
    });
    expect(nodes.find((v) => v.nodeId === "other-node")).toMatchObject({
      status: "unleased",
      connections: 1,
    });

    // It comes back: a heartbeat leases it again, and what it reports now stays.
    await heartbeat(app, node, 60_000);
    await online(app, users[0] as string, "c0-again", node);
    await waitFor(async () => (await listNodes(bus, app)).find((v) => v.nodeId === node)?.connections === 1, {
      timeoutMs: 10_000,
      what: "the node to hold its new connection",
    });
    expect((await listNodes(bus, app)).find((v) => v.nodeId === node)).toMatchObject({
      status: "leased",
      leaseMs: 60_000,
    });
    expect((await getUserPresence(bus, app, users[0] as string))?.status).toBe(UserStatus.USER_STATUS_ONLINE);
    expect(await originals(app, "node.reset")).toHaveLength(1);
  });

  it("keeps a node whose heartbeats come in time, even on a replica whose clock runs an hour ahead", async () => {
    // Every timer of this replica fires at once: it asks the stream's clock, which says the lease holds.
    await start(() => Date.now() + 3_600_000);
    const app = "ahead";
    const node = "core-⏰";
    await heartbeat(app, node, 2_000);
    await online(app, "u1", "c1", node);
    let beats = 1;
    const beating = setInterval(() => {
      void heartbeat(app, node, 2_000).then(() => (beats += 1));
    }, 300);
    try {
      // The replica asked several times (each check is stored), over more than a lease and its margin.
      await waitFor(
        async () => {
          const checks = await originals(app, "node.lease_check");
          const heartbeats = await originals(app, "node.heartbeat");
          const span = (heartbeats.at(-1)?.time ?? 0) - (heartbeats[0]?.time ?? 0);
          return checks.length >= 3 && span > 2_000 + MARGIN_MS;
        },
        { timeoutMs: 30_000, what: "lease checks from the replica whose clock is ahead" },
      );
    } finally {
      clearInterval(beating);
    }
    expect(beats).toBeGreaterThan(1);
    expect(await originals(app, "node.reset")).toHaveLength(0);
    expect(await originals(app, "user.offline")).toHaveLength(0);
    expect((await getUserPresence(bus, app, "u1"))?.status).toBe(UserStatus.USER_STATUS_ONLINE);

    // Silent now: the same replica resets it, once.
    await waitFor(async () => (await originals(app, "user.offline")).length === 1, {
      timeoutMs: 30_000,
      what: "the node to be reset once its heartbeats stop",
    });
    expect(await originals(app, "node.reset")).toHaveLength(1);
  });

  it("does not lease a node that never sent a heartbeat, and a reported reset ends a lease", async () => {
    await start();
    const app = "unleased";
    await online(app, "u1", "c1", "quiet");
    await heartbeat(app, "said-reset", 1_000);
    await online(app, "u2", "c2", "said-reset");
    await publish(app, { $case: "nodeReset", value: { nodeId: "said-reset" } });
    await waitFor(
      async () => (await listNodes(bus, app)).find((v) => v.nodeId === "said-reset")?.status === "reset",
      {
        timeoutMs: 10_000,
        what: "the reported reset to end the lease",
      },
    );
    // Past that lease and margin, ordered by a later lease that runs out: nothing more was reset.
    await heartbeat(app, "marker", 1_000);
    await online(app, "u3", "c3", "marker");
    await waitFor(
      async () => (await originals(app, "node.reset")).some((s) => s.event.id.startsWith("node-lease:")),
      {
        timeoutMs: 30_000,
        what: "the marker node's lease to run out",
      },
    );
    const resets = await originals(app, "node.reset");
    expect(resets.map((s) => s.event.payload?.$case === "nodeReset" && s.event.payload.value.nodeId)).toEqual(
      ["said-reset", "marker"],
    );
    expect((await getUserPresence(bus, app, "u1"))?.status).toBe(UserStatus.USER_STATUS_ONLINE);
    const nodes = await listNodes(bus, app);
    expect(nodes.find((v) => v.nodeId === "quiet")).toMatchObject({ status: "unleased", connections: 1 });
    expect(nodes.find((v) => v.nodeId === "said-reset")).toMatchObject({
      status: "reset",
      resetReason: "reported",
    });
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Event, OfflineReason, UserStatus, eventType } from "@herald/proto";
import type { DeepPartial } from "@herald/proto";
import { applyTopology, connectBus, publishEvent } from "@herald/bus";
import type { Bus } from "@herald/bus";
import { createLogger } from "@herald/runtime";
import { startNats, waitFor } from "@herald/testkit";
import type { NatsFixture } from "@herald/testkit";
import { Kvm } from "@nats-io/kv";
import { presenceDurables, startPresence, sweepGraceOnce } from "./engine.js";
import { createPresenceProcessor } from "./processor.js";
import type { PresenceEngine } from "./engine.js";
import { presenceKeys } from "./keys.js";
import { getUserPresence, listUsers } from "./queries.js";
import { rebuildPresence } from "./rebuild.js";
import { readUserState } from "./store.js";
import { toUserPresence } from "./state.js";

const log = createLogger({ service: "presence-test", level: process.env["LOG_LEVEL"] ?? "silent" });
let nats: NatsFixture;
const buses: Bus[] = [];
const engines: PresenceEngine[] = [];
let bus: Bus;
let n = 0;

async function openBus(): Promise<Bus> {
  const b = await connectBus({ servers: nats.url, name: "presence-test", log, namespace: nats.namespace });
  buses.push(b);
  return b;
}

beforeAll(async () => {
  nats = await startNats();
  bus = await openBus();
  await applyTopology(bus, { replicas: 1 });
});

afterAll(async () => {
  await Promise.all(engines.map((e) => e.stop()));
  await Promise.all(buses.map((b) => b.drain()));
  await nats?.stop();
});

async function publish(appId: string, payload: DeepPartial<Event>["payload"]): Promise<void> {
  const event = Event.fromPartial({
    id: `t-${++n}`,
    appId,
    operationId: `op-${n}`,
    occurredAt: new Date(),
    payload,
  });
  await publishEvent(bus, bus.names.subjects.event(appId, eventType(event)), Event.encode(event).finish(), {
    msgId: event.id,
  });
}

const on = (appId: string, userId: string, connId: string, nodeId = "n1") =>
  publish(appId, {
    $case: "connectionOnline",
    value: { userId, connId, nodeId, platformId: 5, platform: "Web" },
  });
const off = (appId: string, userId: string, connId: string, reason = OfflineReason.OFFLINE_REASON_LOGOUT) =>
  publish(appId, { $case: "connectionOffline", value: { userId, connId, reason } });

async function drained(): Promise<void> {
  const jsm = await bus.jsm();
  await waitFor(
    async () => {
      for (const durable of Object.values(presenceDurables())) {
        const info = await jsm.consumers.info(bus.names.streams.events, durable).catch(() => undefined);
        if (info === undefined || info.num_pending > 0 || info.num_ack_pending > 0) return false;
      }
      return true;
    },
    { timeoutMs: 20_000, what: "presence consumers to ack everything" },
  );
}

/** Derived event ids stored in EVENTS for an app. */
async function derivedIds(appId: string): Promise<string[]> {
  const jsm = await bus.jsm();
  const ids: string[] = [];
  const { state } = await jsm.streams.info(bus.names.streams.events);
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const msg = await jsm.streams.getMessage(bus.names.streams.events, { seq }).catch(() => null);
    if (msg?.subject.startsWith(bus.names.subjects.event(appId, "user.x").slice(0, -1))) {
      ids.push(Event.decode(msg.data).id);
    }
  }
  return ids;
}

function start(graceMs = 0): PresenceEngine {
  const engine = startPresence({ bus, log, graceMs, concurrency: 16, sweepMs: 50 });
  engines.push(engine);
  return engine;
}

describe("presence engine on a real NATS", () => {
  it("two replicas fold many users into one derived event per change; a rebuild equals the live state", async () => {
    const replicaBus = await openBus();
    const a = start();
    const b = startPresence({ bus: replicaBus, log, graceMs: 0, concurrency: 16 });
    engines.push(b);
    const app = "many";
    const users = Array.from({ length: 20 }, (_, u) => `user.${u}`);
    // Each phase is acked before the next, so one user's events never race each other; users do.
    const phases: ((user: string, u: number) => Promise<void>)[] = [
      (user) => on(app, user, "phone", "n1"),
      (user) => on(app, user, "desk", "n2"),
      (user) => off(app, user, "phone"),
      (user, u) => (u % 2 === 0 ? off(app, user, "desk") : Promise.resolve()),
    ];
    for (const phase of phases) {
      await Promise.all(users.map(phase));
      await drained();
    }
    await publish(app, { $case: "nodeReset", value: { nodeId: "n2" } });
    await drained();

    const ids = await derivedIds(app);
    // Each user: online, then offline (odd users by the reset of n2): seq 1 and 2, no more, none twice.
    expect(ids.sort()).toEqual(
      Array.from({ length: 20 }, (_, u) => [`${app}:user.${u}:presence:1`, `${app}:user.${u}:presence:2`])
        .flat()
        .sort(),
    );
    const odd = await getUserPresence(bus, app, "user.1");
    expect(odd?.status).toBe(UserStatus.USER_STATUS_OFFLINE);
    expect(odd?.seq).toBe(2);

    const bucket = `${nats.namespace}_REBUILT`;
    const report = await rebuildPresence(bus, { bucket });
    expect(report.users).toBeGreaterThanOrEqual(20);
    const rebuilt = await new Kvm(bus.js).open(bucket);
    const live = await bus.kv(bus.names.buckets.presence);
    for (let u = 0; u < 20; u++) {
      const key = presenceKeys.user(app, `user.${u}`);
      const [l, r] = await Promise.all([readUserState(live, key), readUserState(rebuilt, key)]);
      expect(r.state && toUserPresence(r.state)).toEqual(l.state && toUserPresence(l.state));
    }
    await Promise.all([a.stop(), b.stop()]);
  });

  it("answers getUserPresence and pages listUsers with filters", async () => {
    const engine = start();
    const app = "query";
    await on(app, "alice", "c1");
    await on(app, "bob", "c2");
    await on(app, "carol", "c3");
    await off(app, "carol", "c3");
    await drained();
    expect(await getUserPresence(bus, app, "nobody")).toBeUndefined();
    const alice = await getUserPresence(bus, app, "alice");
    expect(alice?.connections.map((c) => c.connId)).toEqual(["c1"]);

    const first = await listUsers(bus, app, { status: "online", pageSize: 1 });
    expect(first.users.map((u) => u.userId)).toEqual(["alice"]);
    const second = await listUsers(bus, app, {
      status: "online",
      pageSize: 1,
      pageToken: first.nextPageToken,
    });
    expect(second.users.map((u) => u.userId)).toEqual(["bob"]);
    const offline = await listUsers(bus, app, { status: "offline", pageSize: 10 });
    expect(offline).toEqual({ users: [expect.objectContaining({ userId: "carol" })], nextPageToken: "" });
    expect((await listUsers(bus, app, { platformId: 2, pageSize: 10 })).users).toEqual([]);
    await engine.stop();
  });

  it("does not end a grace period while a reconnect sent in time still waits in the stream", async () => {
    const app = "backlog";
    const first = start(1_000);
    await on(app, "frank", "c1");
    await off(app, "frank", "c1", OfflineReason.OFFLINE_REASON_DISCONNECT);
    await drained();
    await first.stop();
    // The reconnect is stored within the grace period, but nobody folds it until it has passed.
    await on(app, "frank", "c2");
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // A sweep now, before anything folds the reconnect, must leave the held connection alone.
    const sweeper = createPresenceProcessor({ bus, log, graceMs: 1_000 });
    await sweepGraceOnce(bus, sweeper);
    await sweeper.close();
    start(1_000);
    await drained();
    await waitFor(async () => (await getUserPresence(bus, app, "frank"))?.connections.length === 1, {
      timeoutMs: 10_000,
      what: "frank's held connection to go",
    });
    expect(await derivedIds(app)).toEqual([`${app}:frank:presence:1`]);
  });

  it("turns a disconnect into one offline once the grace period ends, and none on a quick reconnect", async () => {
    // Long enough that the reconnect, sent right after the disconnect, is folded within it even on a loaded machine.
    const engine = start(2_000);
    const app = "grace";
    await on(app, "dave", "c1");
    await off(app, "dave", "c1", OfflineReason.OFFLINE_REASON_DISCONNECT);
    await on(app, "dave", "c2");
    await on(app, "erin", "c1");
    await off(app, "erin", "c1", OfflineReason.OFFLINE_REASON_TIMEOUT);
    await drained();
    await waitFor(
      async () => (await getUserPresence(bus, app, "erin"))?.status === UserStatus.USER_STATUS_OFFLINE,
      {
        timeoutMs: 10_000,
        what: "erin's grace period to end",
      },
    );
    const kv = await bus.kv(bus.names.buckets.presence);
    await waitFor(async () => (await kv.get(presenceKeys.grace(app, "erin")))?.operation !== "PUT", {
      timeoutMs: 10_000,
      what: "erin's grace key to go",
    });
    await waitFor(async () => (await getUserPresence(bus, app, "dave"))?.connections.length === 1, {
      timeoutMs: 10_000,
      what: "dave's held connection to go",
    });
    expect((await derivedIds(app)).sort()).toEqual([
      `${app}:dave:presence:1`,
      `${app}:erin:presence:1`,
      `${app}:erin:presence:2`,
    ]);
    await engine.stop();
  });
});

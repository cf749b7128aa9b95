import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Event, OfflineReason, UserStatus, eventType } from "@herald/proto";
import type { DeepPartial } from "@herald/proto";
import { applyTopology, connectBus, partitionOf, storeEvent } from "@herald/bus";
import type { Bus } from "@herald/bus";
import { partitionsBehind } from "@herald/projection";
import type { ProjectionEngine } from "@herald/projection";
import { createLogger } from "@herald/runtime";
import { startNats, waitFor } from "@herald/testkit";
import type { NatsFixture } from "@herald/testkit";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import { startPresence } from "./engine.js";
import { presenceKeys } from "./keys.js";
import { PRESENCE_PROJECTION } from "./projection.js";
import { getUserPresence, listUsers } from "./queries.js";
import { rebuildPresence } from "./rebuild.js";
import { fixedPresenceSettings } from "./settings.js";
import { decodeUserState, toUserPresence } from "./state.js";

const log = createLogger({ service: "presence-test", level: process.env["LOG_LEVEL"] ?? "silent" });
let nats: NatsFixture;
const buses: Bus[] = [];
const engines: ProjectionEngine[] = [];
let bus: Bus;
let n = 0;

async function openBus(): Promise<Bus> {
  const b = await connectBus({ servers: nats.url, name: "presence-test", log, namespace: nats.namespace });
  await applyTopology(b, { replicas: 1, partitions: 8 });
  buses.push(b);
  return b;
}

beforeAll(async () => {
  nats = await startNats();
  bus = await openBus();
});

afterAll(async () => {
  await Promise.all(engines.map((e) => e.stop()));
  await Promise.all(buses.map((b) => b.drain()));
  await nats?.stop();
});

async function publish(appId: string, payload: DeepPartial<Event>["payload"]): Promise<void> {
  const partial = Event.fromPartial({
    id: `t-${++n}`,
    appId,
    operationId: `op-${n}`,
    occurredAt: new Date(),
    payload,
  });
  const event = { ...partial, type: eventType(partial) };
  await storeEvent(bus, event, { msgId: `${appId}:${event.id}` });
}

const on = (appId: string, userId: string, connId: string, nodeId = "n1") =>
  publish(appId, {
    $case: "connectionOnline",
    value: { userId, connId, nodeId, platformId: 5, platform: "Web" },
  });
const off = (appId: string, userId: string, connId: string, reason = OfflineReason.OFFLINE_REASON_LOGOUT) =>
  publish(appId, { $case: "connectionOffline", value: { userId, connId, reason } });

async function drained(): Promise<void> {
  const projection = { name: PRESENCE_PROJECTION, lane: "conn", bucket: bus.names.buckets.presence };
  await waitFor(async () => (await partitionsBehind(bus, projection)).length === 0, {
    timeoutMs: 30_000,
    what: "presence to fold and write everything stored",
  });
}

/** Derived events stored in EVENTS for an app, in stream order, as [id, type]. */
async function derived(appId: string): Promise<[string, string][]> {
  const jsm = await bus.jsm();
  const out: [string, string][] = [];
  const { state } = await jsm.streams.info(bus.names.streams.events);
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const msg = await jsm.streams.getMessage(bus.names.streams.events, { seq }).catch(() => null);
    const at = msg === null ? undefined : bus.names.subjects.parseEvent(msg.subject);
    if (msg !== null && at?.lane === "user" && at.appId === appId) {
      const e = Event.decode(msg.data);
      out.push([e.id, e.type]);
    }
  }
  return out;
}

async function read(kv: KV, appId: string, userId: string) {
  const key = presenceKeys.user(partitionOf(appId, userId, bus.layout.partitions), appId, userId);
  const entry = await kv.get(key);
  return entry === null || entry.operation !== "PUT"
    ? undefined
    : toUserPresence(decodeUserState(entry.value));
}

async function start(graceMs = 0, on: Bus = bus): Promise<ProjectionEngine> {
  const engine = await startPresence({
    bus: on,
    log,
    settings: fixedPresenceSettings({ graceMs }),
    leaseMs: 2_000,
  });
  engines.push(engine);
  return engine;
}

describe("presence on the projection kit, on a real NATS", () => {
  it("two replicas split the partitions and fold each user's events in order; a rebuild equals the live state", async () => {
    const a = await start();
    const b = await start(0, await openBus());
    await waitFor(
      () => a.owned().length + b.owned().length === 8 && a.owned().length > 0 && b.owned().length > 0,
      {
        timeoutMs: 20_000,
        what: "both replicas to own partitions",
      },
    );
    expect([...a.owned(), ...b.owned()].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const app = "many";
    const users = Array.from({ length: 40 }, (_, u) => `user.${u}-用户-🙂`);
    // All at once: each user's four events are stored in order; users interleave.
    await Promise.all(
      users.map(async (user, u) => {
        await on(app, user, "phone", "n1");
        await on(app, user, "desk", "n2");
        await off(app, user, "phone");
        if (u % 2 === 0) await off(app, user, "desk");
      }),
    );
    await publish(app, { $case: "nodeReset", value: { nodeId: "n2" } });
    await drained();

    const ids = (await derived(app)).map(([id]) => id);
    // Each user: online, then offline (odd users by the reset of n2): seq 1 and 2, in that order, none twice.
    expect([...ids].sort()).toEqual(
      users.flatMap((user) => [`${app}:${user}:presence:1`, `${app}:${user}:presence:2`]).sort(),
    );
    for (const user of users) {
      expect(ids.indexOf(`${app}:${user}:presence:1`)).toBeLessThan(ids.indexOf(`${app}:${user}:presence:2`));
    }
    const odd = await getUserPresence(bus, app, users[1] as string);
    expect(odd?.status).toBe(UserStatus.USER_STATUS_OFFLINE);
    expect(odd?.seq).toBe(2);

    const bucket = `${nats.namespace}_REBUILT`;
    const report = await rebuildPresence(bus, { bucket, log });
    expect(report.states).toBeGreaterThanOrEqual(40);
    const rebuilt = await new Kvm(bus.js).open(bucket);
    const live = await bus.kv(bus.names.buckets.presence);
    for (const user of users) {
      expect(await read(rebuilt, app, user)).toEqual(await read(live, app, user));
    }
    await Promise.all([a.stop(), b.stop()]);
  });

  it("answers getUserPresence and pages listUsers across partitions", async () => {
    const engine = await start();
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
    const first = await start(1_000);
    await on(app, "frank", "c1");
    await off(app, "frank", "c1", OfflineReason.OFFLINE_REASON_DISCONNECT);
    await drained();
    await first.stop();
    // The reconnect is stored within the grace period, but nobody folds it until it has passed.
    await on(app, "frank", "c2");
    await waitFor(async () => Date.now() > (await graceEnd(app, "frank")), {
      timeoutMs: 10_000,
      what: "the grace to pass",
    });
    await start(1_000);
    await drained();
    await waitFor(async () => (await getUserPresence(bus, app, "frank"))?.connections.length === 1, {
      timeoutMs: 10_000,
      what: "frank's held connection to go",
    });
    expect(await derived(app)).toEqual([[`${app}:frank:presence:1`, "user.online"]]);
  });

  it("turns a disconnect into one offline once the grace period ends, and none on a quick reconnect", async () => {
    // Long enough that the reconnect, sent right after the disconnect, is folded within it even on a loaded machine.
    const engine = await start(2_000);
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
    await waitFor(async () => (await getUserPresence(bus, app, "dave"))?.connections.length === 1, {
      timeoutMs: 10_000,
      what: "dave's held connection to go",
    });
    expect((await derived(app)).map(([id]) => id).sort()).toEqual([
      `${app}:dave:presence:1`,
      `${app}:erin:presence:1`,
      `${app}:erin:presence:2`,
    ]);
    await engine.stop();
  });
});

/** When the user's earliest held connection is let go (ms), from the stored state. */
async function graceEnd(appId: string, userId: string): Promise<number> {
  const kv = await bus.kv(bus.names.buckets.presence);
  const entry = await kv.get(
    presenceKeys.user(partitionOf(appId, userId, bus.layout.partitions), appId, userId),
  );
  if (entry === null || entry.operation !== "PUT") return Infinity;
  const ends = Object.values(decodeUserState(entry.value).connections).flatMap((c) => c.graceUntil ?? []);
  return ends.length === 0 ? Infinity : Math.min(...ends);
}

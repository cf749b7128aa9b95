// Per-app presence and chatroom settings (issue 19): each app's `presence` and `chatroom` blocks, set
// through the admin API, decide how the real presence and chatroom processes fold its users, over the
// environment's defaults, and a change applies without a restart.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials, type ServiceError } from "@grpc/grpc-js";
import type { Event } from "@herald/proto";
import {
  ChatroomServiceClient,
  OfflineReason,
  type DeepPartial,
  type HeraldServiceClient,
  type ListUserRoomsResponse,
} from "@herald/proto";
import { partitionOf, type Bus } from "@herald/bus";
import { KICKS_PROJECTION, ROOMS_PROJECTION, roomKeys } from "@herald/chatroom";
import { PRESENCE_PROJECTION } from "@herald/presence";
import { partitionsBehind } from "@herald/projection";
import { waitFor } from "@herald/testkit";
import { adminCaller, expectAdminError } from "./admin-client.js";
import { publish } from "./grpc-client.js";
import { startDeliveryStack, type DeliveryStack } from "./delivery-fixture.js";
import type { ServiceProcess } from "./harness.js";
import { storedEvents } from "./stream-contents.js";

const ADMIN_TOKEN = "admin-token-for-app-settings-0123456789";

let stack: DeliveryStack;
let bus: Bus;
let client: HeraldServiceClient;
let rooms: ChatroomServiceClient;
let presence: ServiceProcess;
let chatroom: ServiceProcess;
let n = 0;
const call = adminCaller(() => stack.gateway.adminUrl, ADMIN_TOKEN);

beforeAll(async () => {
  stack = await startDeliveryStack({
    env: {
      ADMIN_TOKEN,
      // The defaults of apps that set nothing: no grace, no auto-kick.
      PRESENCE_GRACE_MS: "0",
      CHATROOM_KICK_AFTER_MS: "0",
      CHATROOM_ABNORMAL_DELAY_MS: "0",
    },
    also: ["presence", "chatroom"],
    deliverers: 0,
  });
  ({ bus, client } = stack);
  [presence, chatroom] = stack.others as [ServiceProcess, ServiceProcess];
  rooms = new ChatroomServiceClient(stack.gateway.grpcAddress, credentials.createInsecure());
}, 120_000);

afterAll(async () => {
  rooms?.close();
  await stack?.stop();
});

/** Creates or replaces an app through the admin API, and waits until presence and chatroom hold it. */
async function putApp(appId: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await call("PUT", `/v1/apps/${appId}`, { body });
  expect(res.status, res.text).toBeLessThan(300);
  const jsm = await bus.jsm();
  const revision = (await jsm.streams.info(`KV_${bus.names.buckets.config}`)).state.last_seq;
  await waitFor(
    async () =>
      (await configRevision(presence, "herald_presence_config_revision")) >= revision &&
      (await configRevision(chatroom, "herald_chatroom_config_revision")) >= revision,
    { timeoutMs: 15_000, what: `presence and chatroom to apply CONFIG revision ${revision}` },
  );
  return res.body as Record<string, unknown>;
}

async function configRevision(service: ServiceProcess, metric: string): Promise<number> {
  const text = await fetch(`${service.httpUrl}/metrics`)
    .then((r) => r.text())
    .catch(() => "");
  const found = new RegExp(`^${metric}(?:\\{[^}]*\\})? (\\d+)`, "m").exec(text);
  return found === null ? -1 : Number(found[1]);
}

function event(appId: string, payload: DeepPartial<Event>["payload"]): DeepPartial<Event> {
  n += 1;
  return { id: `as-${process.pid}-${n}`, appId, operationId: `op-${n}`, payload };
}
const online = (appId: string, userId: string, connId = "c1") =>
  event(appId, { $case: "connectionOnline", value: { userId, connId, nodeId: "core-1", platformId: 1 } });
const disconnect = (appId: string, userId: string, connId = "c1") =>
  event(appId, {
    $case: "connectionOffline",
    value: { userId, connId, reason: OfflineReason.OFFLINE_REASON_DISCONNECT },
  });

/** Publishes each event, and waits until presence (and the chatroom) folded everything stored. */
async function send(...events: DeepPartial<Event>[]): Promise<void> {
  for (const e of events) {
    await publish(client, [e]);
    await folded();
  }
}

async function folded(): Promise<void> {
  const projections = [
    { name: PRESENCE_PROJECTION, lane: "conn", bucket: bus.names.buckets.presence },
    { name: ROOMS_PROJECTION, lane: "room", bucket: bus.names.buckets.rooms },
    { name: KICKS_PROJECTION, lane: "user", bucket: bus.names.buckets.rooms },
  ];
  await waitFor(
    async () => {
      for (const p of projections) if ((await partitionsBehind(bus, p)).length > 0) return false;
      return true;
    },
    { timeoutMs: 30_000, what: "presence and the chatroom to fold every stored event" },
  );
}

/** The user.* events presence derived for an app, oldest first. */
async function derived(appId: string): Promise<string[]> {
  return (await storedEvents(bus, appId, "user")).map((s) => s.event.type);
}

const userRooms = (appId: string, userId: string) =>
  new Promise<string[]>((resolve, reject) =>
    rooms.listUserRooms({ appId, userId }, (err: ServiceError | null, res: ListUserRoomsResponse) =>
      err ? reject(err) : resolve(res.roomIds),
    ),
  );

describe("per-app presence settings, in the running presence service", () => {
  it("folds each app by its own grace period, and applies a change without a restart", async () => {
    const shown = await putApp("grace0", { presence: { graceMs: 0 } });
    expect(shown["presence"]).toEqual({ graceMs: 0 });
    expect((await putApp("graceLong", { presence: { graceMs: "10m" } }))["presence"]).toEqual({
      graceMs: 600_000,
    });
    const got = (await call("GET", "/v1/apps/graceLong")).body as { presence?: unknown };
    expect(got.presence).toEqual({ graceMs: 600_000 });

    // Grace 0: an abnormal disconnect of the last connection is a user.offline at once.
    await send(online("grace0", "用户-甲"), disconnect("grace0", "用户-甲"));
    expect(await derived("grace0")).toEqual(["user.online", "user.offline"]);

    // A long grace: the same disconnect, folded, derives nothing; a reconnect within it makes no flap.
    await send(online("graceLong", "用户-乙"), disconnect("graceLong", "用户-乙"));
    expect(await derived("graceLong")).toEqual(["user.online"]);
    await send(online("graceLong", "用户-乙"));
    expect(await derived("graceLong")).toEqual(["user.online"]);

    // A disconnect held by the long grace, then the grace set to 0 through the admin API: what
    // already waits ends at once, and the next disconnect is an offline at once. No restart.
    await send(online("graceLong", "用户-丙"), disconnect("graceLong", "用户-丙"));
    expect(await derived("graceLong")).toEqual(["user.online", "user.online"]);
    await putApp("graceLong", { presence: { graceMs: "0s" } });
    await waitFor(async () => (await derived("graceLong")).length === 3, {
      timeoutMs: 20_000,
      what: "the held disconnect to end once the grace is 0",
    });
    expect(await derived("graceLong")).toEqual(["user.online", "user.online", "user.offline"]);
    await send(disconnect("graceLong", "用户-乙"));
    expect(await derived("graceLong")).toEqual([
      "user.online",
      "user.online",
      "user.offline",
      "user.offline",
    ]);
  });
});

describe("per-app chatroom settings, in the running chatroom service", () => {
  it("kicks an offline member of an app with kickAfterMs, and not one of an app without it", async () => {
    await putApp("kickOn", { chatroom: { kickAfterMs: "200ms", abnormalDelayMs: 0 } });
    await putApp("kickOff", {});
    for (const app of ["kickOn", "kickOff"]) {
      await send(
        event(app, { $case: "roomCreated", value: { roomId: "房间-🙂" } }),
        event(app, { $case: "roomJoined", value: { roomId: "房间-🙂", userIds: ["成员-😀"] } }),
        online(app, "成员-😀"),
        disconnect(app, "成员-😀"),
      );
      expect(await derived(app)).toEqual(["user.online", "user.offline"]);
    }
    await waitFor(async () => (await userRooms("kickOn", "成员-😀")).length === 0, {
      timeoutMs: 20_000,
      what: "the offline member of kickOn to be kicked",
    });
    // kickOff's user.offline is folded (send waited for the kicks projection) and set no kick timer.
    const kv = await bus.kv(bus.names.buckets.rooms);
    const timer = roomKeys.kick(
      partitionOf("kickOff", "成员-😀", bus.layout.partitions),
      "kickOff",
      "成员-😀",
    );
    expect((await kv.get(timer))?.operation).not.toBe("PUT");
    expect(await userRooms("kickOff", "成员-😀")).toEqual(["房间-🙂"]);
  });

  it("moves a kick that already waits when the app's kickAfterMs is shortened", async () => {
    const app = "kickLater";
    await putApp(app, { chatroom: { kickAfterMs: "1h", abnormalDelayMs: 0 } });
    await send(
      event(app, { $case: "roomCreated", value: { roomId: "房间-⏳" } }),
      event(app, { $case: "roomJoined", value: { roomId: "房间-⏳", userIds: ["成员-🐢"] } }),
      online(app, "成员-🐢"),
      disconnect(app, "成员-🐢"),
    );
    // The kick waits for the hour: its timer is stored.
    const kv = await bus.kv(bus.names.buckets.rooms);
    const timer = roomKeys.kick(partitionOf(app, "成员-🐢", bus.layout.partitions), app, "成员-🐢");
    expect((await kv.get(timer))?.operation).toBe("PUT");
    expect(await userRooms(app, "成员-🐢")).toEqual(["房间-⏳"]);
    await putApp(app, { chatroom: { kickAfterMs: "200ms", abnormalDelayMs: 0 } });
    await waitFor(async () => (await userRooms(app, "成员-🐢")).length === 0, {
      timeoutMs: 20_000,
      what: "the waiting kick to happen once kickAfterMs is 200 ms",
    });
  });
});

describe("the admin API's checks of the blocks", () => {
  it("refuses a negative or over-a-week value, and an unknown key, naming the field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ presence: { graceMs: -1 } }, "presence.graceMs"],
      [{ presence: { nodeLeaseMarginMs: "8d" } }, "presence.nodeLeaseMarginMs"],
      [{ chatroom: { idleDestroyMs: 604_800_001 } }, "chatroom.idleDestroyMs"],
      [{ chatroom: { kickAfterMs: "soon" } }, "chatroom.kickAfterMs"],
      [{ chatroom: { kickAfter: 5 } }, "chatroom"],
    ];
    for (const [body, field] of cases) {
      const res = await call("PUT", "/v1/apps/refused", { body });
      expectAdminError(res, 400);
      const { error } = res.body as { error: { field?: string } };
      expect(error.field, res.text).toContain(field);
    }
    expect((await call("GET", "/v1/apps/refused")).status).toBe(404);
  });

  it("describes the blocks in the OpenAPI document (ms or duration text)", async () => {
    const doc = (await call("GET", "/openapi.json")).text;
    expect(doc).toContain("kickAfterMs");
    expect(doc).toContain("nodeLeaseMarginMs");
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import {
  ChatroomServiceClient,
  Event,
  OfflineReason,
  type DeepPartial,
  type GetRoomRequest,
  type GetRoomResponse,
  type HeraldServiceClient,
  type ListRoomMembersRequest,
  type ListRoomMembersResponse,
  type ListUserRoomsRequest,
  type ListUserRoomsResponse,
  type RoomStatus,
} from "@herald/proto";
import { applyTopology, busNames, connectBus, partitionOf, type Bus, type BusNames } from "@herald/bus";
import { KICKS_PROJECTION, ROOMS_PROJECTION, roomKeys, type KickTimer } from "@herald/chatroom";
import { partitionsBehind } from "@herald/projection";
import { createLogger } from "@herald/runtime";
import { startNats, waitFor, type NatsFixture } from "@herald/testkit";
import { startService, stopAll, type ServiceProcess } from "./harness.js";
import { configureApps } from "./apps.js";
import { heraldClient, publish } from "./grpc-client.js";

const KICK_AFTER_MS = 400;
const ABNORMAL_DELAY_MS = 1500;
const IDLE_DESTROY_MS = 1500;

let nats: NatsFixture;
let names: BusNames;
let services: ServiceProcess[] = [];
let gateway: ServiceProcess;
let client: HeraldServiceClient;
let rooms: ChatroomServiceClient;
let nc: NatsConnection;
let jsm: JetStreamManager;
let bus: Bus;
let env: Record<string, string> & { NATS_URL: string };
let n = 0;

beforeAll(async () => {
  nats = await startNats();
  names = busNames(nats.namespace);
  env = {
    NATS_URL: nats.url,
    HERALD_NAMESPACE: nats.namespace,
    CHATROOM_KICK_AFTER_MS: String(KICK_AFTER_MS),
    CHATROOM_ABNORMAL_DELAY_MS: String(ABNORMAL_DELAY_MS),
    CHATROOM_IDLE_DESTROY_MS: String(IDLE_DESTROY_MS),
    // A killed replica's partitions move to another soon.
    PROJECTION_LEASE_MS: "2000",
  };
  gateway = await startService("gateway", env);
  services = [gateway, await startService("chatroom", env), await startService("presence", env)];
  await Promise.all(services.map((s) => s.waitReady()));
  await configureApps(env, ["life", "bad", "kick", "abnormal", "sigkill", "big"]);
  client = heraldClient(gateway.grpcAddress);
  rooms = new ChatroomServiceClient(gateway.grpcAddress, credentials.createInsecure());
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  const log = createLogger({ service: "chatroom-e2e", level: "silent" });
  bus = await connectBus({ servers: nats.url, name: "chatroom-e2e", log, namespace: nats.namespace });
  await applyTopology(bus, { replicas: 1 });
}, 60_000);

afterAll(async () => {
  client?.close();
  rooms?.close();
  await nc?.close();
  await bus?.drain();
  await stopAll(services);
  await nats?.stop();
});

type Payload = DeepPartial<Event>["payload"];

function event(appId: string, payload: Payload): DeepPartial<Event> {
  n += 1;
  return { id: `cr-${process.pid}-${n}`, appId, operationId: `op-${n}`, payload };
}
const create = (app: string, roomId: string) => event(app, { $case: "roomCreated", value: { roomId } });
const join = (app: string, roomId: string, ...userIds: string[]) =>
  event(app, { $case: "roomJoined", value: { roomId, userIds } });
const leave = (app: string, roomId: string, ...userIds: string[]) =>
  event(app, { $case: "roomLeft", value: { roomId, userIds } });
const destroy = (app: string, roomId: string) => event(app, { $case: "roomDestroyed", value: { roomId } });
const online = (app: string, userId: string) =>
  event(app, {
    $case: "connectionOnline",
    value: { userId, connId: `${userId}-c`, nodeId: "core-1", platformId: 1 },
  });
const offline = (app: string, userId: string, reason: OfflineReason) =>
  event(app, { $case: "connectionOffline", value: { userId, connId: `${userId}-c`, reason } });

/** Every room and user event stored so far is folded and written by the chatroom service. */
async function folded(): Promise<void> {
  const bucket = names.buckets.rooms;
  const projections = [
    { name: ROOMS_PROJECTION, lane: "room", bucket },
    { name: KICKS_PROJECTION, lane: "user", bucket },
  ];
  await waitFor(
    async () => {
      for (const p of projections) if ((await partitionsBehind(bus, p)).length > 0) return false;
      return true;
    },
    {
      // Folding 50,000 joins is slow on a loaded machine: wait while it writes, fail when it stops.
      timeoutMs: 30_000,
      progress: async () => (await jsm.streams.info(`KV_${bucket}`)).state.last_seq,
      what: "the chatroom service to fold every room event",
    },
  );
}

async function send(...events: DeepPartial<Event>[]): Promise<void> {
  await publish(client, events);
  await folded();
}

/** The room.status records of an app as stored, duplicates included, with their ids. */
async function records(appId: string): Promise<(RoomStatus & { id: string })[]> {
  // Every partition's room.status of the app: herald.ev.roomout.*.<app>.room.status
  const subject = names.subjects.lane("roomout").replace(/>$/, `*.${appId}.room.status`);
  const { state } = await jsm.streams.info(names.streams.events, { subjects_filter: subject });
  const stored = Object.values(state.subjects ?? {}).reduce((sum, count) => sum + count, 0);
  if (stored === 0) return [];
  const consumer = await jetstream(nc).consumers.get(names.streams.events, { filter_subjects: subject });
  const out: (RoomStatus & { id: string })[] = [];
  const messages = await consumer.consume();
  for await (const m of messages) {
    const e = Event.decode(m.data);
    if (e.payload?.$case === "roomStatus") out.push({ ...e.payload.value, id: e.id });
    if (out.length >= stored) break;
  }
  await messages.close();
  return out;
}
const summary = async (app: string) =>
  (await records(app)).map((r) => [r.roomId, r.kind, r.status, r.userIds.join(",")].join(" "));

const call = <Req, Res>(fn: (req: Req, cb: (err: ServiceError | null, res: Res) => void) => void, req: Req) =>
  new Promise<Res>((resolve, reject) => fn(req, (err, res) => (err ? reject(err) : resolve(res))));
const getRoom = (appId: string, roomId: string) =>
  call<GetRoomRequest, GetRoomResponse>((req, cb) => rooms.getRoom(req, cb), { appId, roomId });
const members = (appId: string, roomId: string, pageSize: number, pageToken = "") =>
  call<ListRoomMembersRequest, ListRoomMembersResponse>((req, cb) => rooms.listRoomMembers(req, cb), {
    appId,
    roomId,
    pageSize,
    pageToken,
  });
const userRooms = async (appId: string, userId: string) =>
  (
    await call<ListUserRoomsRequest, ListUserRoomsResponse>((req, cb) => rooms.listUserRooms(req, cb), {
      appId,
      userId,
    })
  ).roomIds;

describe("chatroom service", () => {
  it("keeps rooms and memberships, records each change once, and answers queries over gRPC", async () => {
    const app = "life";
    const created = create(app, "r1");
    await send(created, join(app, "r1", "u1", "u2", "u3"));
    await send(leave(app, "r1", "u2"));
    expect((await getRoom(app, "r1")).room).toMatchObject({ appId: app, roomId: "r1", memberCount: 2 });
    expect((await members(app, "r1", 1)).members.map((m) => m.userId)).toEqual(["u1"]);
    const page1 = await members(app, "r1", 1);
    expect((await members(app, "r1", 1, page1.nextPageToken)).members.map((m) => m.userId)).toEqual(["u3"]);
    expect(await userRooms(app, "u1")).toEqual(["r1"]);
    await send(destroy(app, "r1"));
    expect(await summary(app)).toEqual(["r1 0 0 ", "r1 1 0 u1,u2,u3", "r1 2 0 u2", "r1 3 0 "]);
    expect((await records(app))[0]?.causeEventId).toBe(created.id);
    expect(await userRooms(app, "u1")).toEqual([]);
    const missing = await getRoom(app, "r1").catch((e: ServiceError) => e);
    expect((missing as ServiceError).code).toBe(status.NOT_FOUND);
    const noRoom = await members(app, "nope", 10).catch((e: ServiceError) => e);
    expect((noRoom as ServiceError).code).toBe(status.NOT_FOUND);
    const bad = await members(app, "r1", 100_000).catch((e: ServiceError) => e);
    expect((bad as ServiceError).code).toBe(status.INVALID_ARGUMENT);
    expect((bad as ServiceError).details).toContain("page_size");
    const noApp = await getRoom("", "r1").catch((e: ServiceError) => e);
    expect((noApp as ServiceError).details).toContain("app_id");
  });

  it("rejects invalid transitions with a room.rejected record and applies nothing", async () => {
    const app = "bad";
    await send(join(app, "ghost", "u1"), create(app, "r1"));
    await send(create(app, "r1"), join(app, "r1", "u1"));
    await send(join(app, "r1", "u1"), leave(app, "r1", "u9"));
    expect(await summary(app)).toEqual(["r1 0 0 ", "r1 1 0 u1"]);
    expect((await getRoom(app, "r1")).room?.memberCount).toBe(1);
    const subject = names.subjects.lane("roomout").replace(/>$/, `*.${app}.room.rejected`);
    const { state } = await jsm.streams.info(names.streams.events, { subjects_filter: subject });
    expect(Object.values(state.subjects ?? {}).reduce((sum, count) => sum + count, 0)).toBe(4);
  });

  it("kicks a member offline past the threshold (status 1), and destroys the emptied room (status 3)", async () => {
    const app = "kick";
    await send(online(app, "u1"), create(app, "r1"), join(app, "r1", "u1"));
    await publish(client, [offline(app, "u1", OfflineReason.OFFLINE_REASON_LOGOUT)]);
    await waitFor(async () => (await summary(app)).length === 4, {
      timeoutMs: 20_000,
      what: "kick and destroy",
    });
    expect(await summary(app)).toEqual(["r1 0 0 ", "r1 1 0 u1", "r1 2 1 u1", "r1 3 3 "]);
    expect(await userRooms(app, "u1")).toEqual([]);
  });

  it("delays the kick after an abnormal disconnect, and a reconnect within the delay cancels it", async () => {
    const app = "abnormal";
    await send(online(app, "back"), online(app, "gone"), create(app, "r1"), join(app, "r1", "back", "gone"));
    await publish(client, [
      offline(app, "back", OfflineReason.OFFLINE_REASON_DISCONNECT),
      offline(app, "gone", OfflineReason.OFFLINE_REASON_TIMEOUT),
    ]);
    const bucket = names.buckets.rooms;
    const timer = async (userId: string) => {
      const m = await jsm.streams
        .getMessage(`KV_${bucket}`, {
          last_by_subj: `$KV.${bucket}.${roomKeys.kick(partitionOf(app, userId, bus.layout.partitions), app, userId)}`,
        })
        .catch(() => null);
      return m === null || m.data.length === 0 ? undefined : m.json<KickTimer>();
    };
    await waitFor(async () => (await timer("back")) !== undefined, { timeoutMs: 10_000, what: "kick timer" });
    const started = await timer("back");
    expect(started?.abnormal).toBe(true);
    // The timer is due at the offline's time plus the threshold plus the abnormal delay.
    const stored = await records(app);
    expect(started?.due).toBeGreaterThanOrEqual((stored[0]?.time ?? 0) + KICK_AFTER_MS + ABNORMAL_DELAY_MS);
    await publish(client, [online(app, "back")]);
    // "gone" has the same due time: once its kick is stored, "back"'s would have been too.
    await waitFor(async () => (await summary(app)).includes("r1 2 1 gone"), {
      timeoutMs: 20_000,
      what: "the abnormal kick",
    });
    expect(await summary(app)).toEqual(["r1 0 0 ", "r1 1 0 back,gone", "r1 2 1 gone"]);
    expect(await userRooms(app, "back")).toEqual(["r1"]);
  });

  it("loses and duplicates no record when a replica is SIGKILLed mid-stream", async () => {
    const app = "sigkill";
    const victim = await startService("chatroom", env);
    services.push(victim);
    await victim.waitReady();
    const roomIds = Array.from({ length: 10 }, (_, i) => `r${i}`);
    const joins = roomIds.flatMap((r) => Array.from({ length: 30 }, (_, i) => join(app, r, `u${i}`)));
    // Each room gets its first member at once: an empty room is destroyed after IDLE_DESTROY_MS, and
    // on a loaded machine the kill can hold a room's first join back longer than that.
    const [firsts, rest] = [joins.filter((_, i) => i % 30 === 0), joins.filter((_, i) => i % 30 !== 0)];
    await send(...roomIds.map((r) => create(app, r)), ...firsts);
    const sending = (async () => {
      for (let i = 0; i < rest.length; i += 20) await publish(client, rest.slice(i, i + 20));
    })();
    await waitFor(async () => (await records(app)).length > 60, { timeoutMs: 20_000, what: "some joins" });
    await victim.stop("SIGKILL");
    await sending;
    await folded();
    const stored = await records(app);
    expect(stored).toHaveLength(roomIds.length + joins.length);
    expect(new Set(stored.map((r) => r.id)).size).toBe(stored.length);
    for (const r of roomIds.slice(0, 3)) expect((await getRoom(app, r)).room?.memberCount).toBe(30);
  });

  // The test's time limit is a backstop only: folded() fails as soon as the fold stops moving.
  it("holds a room of 50,000 members joined in batches and lists them by paging", async () => {
    const app = "big";
    const total = 50_000;
    const batch = 1000;
    await send(create(app, "big"));
    const joins = Array.from({ length: total / batch }, (_, b) =>
      join(
        app,
        "big",
        ...Array.from({ length: batch }, (_, i) => `user-${String(b * batch + i).padStart(5, "0")}`),
      ),
    );
    for (let i = 0; i < joins.length; i += 10) await publish(client, joins.slice(i, i + 10));
    await folded();
    expect((await getRoom(app, "big")).room?.memberCount).toBe(total);
    const seen: string[] = [];
    let token = "";
    do {
      const page = await members(app, "big", 10_000, token);
      seen.push(...page.members.map((m) => m.userId));
      token = page.nextPageToken;
    } while (token !== "");
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    expect(await userRooms(app, "user-49999")).toEqual(["big"]);
  }, 300_000);
});

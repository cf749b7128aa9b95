import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import {
  ChatroomServiceClient,
  ChatroomServiceService,
  type ListRoomMembersRequest,
  type ListRoomMembersResponse,
} from "@herald/proto";
import { applyTopology, connectBus, partitionOf, type Bus } from "@herald/bus";
import { emptyRoomMeta, roomKeys } from "@herald/chatroom";
import { startGrpcServer, type GrpcServer } from "@herald/grpc";
import { createLogger } from "@herald/runtime";
import { startNats, type NatsFixture } from "@herald/testkit";
import { createChatroomService } from "./chatroom-service.js";

const log = createLogger({ service: "chatroom-service-test", level: "silent" });
const PARTITIONS = 2;
let nats: NatsFixture;
let bus: Bus;
let server: GrpcServer;
let client: ChatroomServiceClient;

beforeAll(async () => {
  // Its own nats-server: the last test stops it.
  nats = await startNats({ source: "local" });
  bus = await connectBus({
    servers: nats.url,
    name: "chatroom-service-test",
    log,
    namespace: nats.namespace,
  });
  await applyTopology(bus, { replicas: 1, partitions: PARTITIONS });
  server = await startGrpcServer({
    host: "127.0.0.1",
    port: 0,
    services: [{ definition: ChatroomServiceService, implementation: createChatroomService(bus, log) }],
    log,
  });
  client = new ChatroomServiceClient(server.address, credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await server?.shutdown(AbortSignal.timeout(5_000));
  // NATS is gone by now: close, as a drain would wait for it.
  await bus?.nc.close();
  await nats?.stop();
});

/** A room with these members, written as the chatroom service writes them, in this order. */
async function room(appId: string, roomId: string, userIds: readonly string[]): Promise<void> {
  const kv = await bus.kv(bus.names.buckets.rooms);
  const p = partitionOf(appId, roomId, PARTITIONS);
  const meta = { ...emptyRoomMeta(appId, roomId), exists: true, createdAt: 1, memberCount: userIds.length };
  await kv.put(roomKeys.room(p, appId, roomId), JSON.stringify(meta));
  for (const userId of userIds) await kv.put(roomKeys.member(p, appId, roomId, userId), "1000");
}

const members = (req: Partial<ListRoomMembersRequest>) =>
  new Promise<ListRoomMembersResponse>((resolve, reject) =>
    client.listRoomMembers({ appId: "app1", roomId: "", pageSize: 0, pageToken: "", ...req }, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );

describe("ChatroomService", () => {
  it("pages a room's members in the order they joined, each page reading only its own", async () => {
    const users = Array.from({ length: 25 }, (_, i) => `user-${String(24 - i).padStart(2, "0")}`);
    await room("app1", "r1", users);
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await members({ roomId: "r1", pageSize: 10, pageToken: token });
      seen.push(...page.members.map((m) => m.userId));
      token = page.nextPageToken;
      pages++;
    } while (token !== "");
    // Joined from user-24 down to user-00: listed so, not sorted by id.
    expect(seen).toEqual(users);
    expect(pages).toBe(3);

    // A member who leaves while the room is paged is not listed; none of the others is left out.
    const first = await members({ roomId: "r1", pageSize: 10 });
    const kv = await bus.kv(bus.names.buckets.rooms);
    await kv.delete(roomKeys.member(partitionOf("app1", "r1", PARTITIONS), "app1", "r1", "user-10"));
    const rest = await members({ roomId: "r1", pageSize: 100, pageToken: first.nextPageToken });
    expect([...first.members, ...rest.members].map((m) => m.userId)).toEqual(
      users.filter((u) => u !== "user-10"),
    );

    const bad = await members({ roomId: "r1", pageSize: 10, pageToken: "user-05" }).catch(
      (e: ServiceError) => e,
    );
    expect(bad).toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: "page_token: not one this server gave",
    });
  });

  it("answers UNAVAILABLE naming what it was reading when NATS does not answer, never a bare internal error", async () => {
    await room("app1", "r2", ["u1"]);
    await nats.kill();
    const err = await members({ roomId: "r2", pageSize: 10 }).catch((e: ServiceError) => e);
    expect(err).toMatchObject({ code: status.UNAVAILABLE });
    expect((err as ServiceError).details).toMatch(/^reading chatroom state: NATS did not answer/);
  });
});

import { z } from "zod";
import { getRoom, listRoomMembers, listRooms, listUserRooms, MAX_MEMBERS_PAGE } from "@herald/chatroom";
import { getUserPresence, listNodes, listUsers, type NodeResetReason, type NodeView } from "@herald/presence";
import { enumChoices, enumFromJson, Room, RoomMember, UserPresence, UserStatus } from "@herald/proto";
import { loadApp } from "./app-model.js";
import type { AdminApp, AdminContext } from "./context.js";
import { notFound } from "./errors.js";
import { appParams, entityIdParam, pageSize, pageToken } from "./schemas.js";
import {
  nodesResponse,
  type NODE_RESET_REASONS,
  type NODE_STATUSES,
  type NodeJson,
  type NodeList,
} from "./answers.js";

// The answers' node statuses and reasons are the presence query's, no more and no fewer.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _statusesAgree: Same<(typeof NODE_STATUSES)[number], NodeView["status"]> = true;
const _reasonsAgree: Same<(typeof NODE_RESET_REASONS)[number], NodeResetReason> = true;

const DEFAULT_PAGE = 100;
const userId = entityIdParam;
const roomId = entityIdParam;
/**
 * A user status as the answers spell it (USER_STATUS_ONLINE), short (online), or its number: the
 * proto3 JSON mapping's spellings and Herald's short one. UNSPECIFIED (0) lists every status.
 */
const userStatus = z.string().refine((given) => enumFromJson(UserStatus, given) !== undefined, {
  error: `expected ${enumChoices(UserStatus)}, by name (online, USER_STATUS_ONLINE) or number`,
});
const STATUS_FILTER: Partial<Record<number, "online" | "offline">> = {
  [UserStatus.USER_STATUS_ONLINE]: "online",
  [UserStatus.USER_STATUS_OFFLINE]: "offline",
};

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

function nodeJson(node: NodeView): NodeJson {
  return {
    nodeId: node.nodeId,
    status: node.status,
    lastHeartbeatAt: iso(node.lastHeartbeatAt),
    leaseMs: node.leaseMs,
    leaseExpiresAt: iso(node.leaseExpiresAt),
    resetAt: iso(node.resetAt),
    resetReason: node.resetReason ?? null,
    connections: node.connections,
  };
}

const pageQuery = (max: number) =>
  z.object({ pageSize: pageSize(max).optional(), pageToken: pageToken.optional() });

/**
 * Presence and chatroom state, through the same query functions as the gateway's gRPC services. The app
 * must exist, so a key cannot tell an unknown app from an app without users.
 */
export function registerQueryRoutes(app: AdminApp, ctx: AdminContext): void {
  app.get(
    "/v1/apps/:appId/presence/users",
    {
      config: { access: "app" },
      schema: {
        tags: ["presence"],
        summary: "Users with their presence, paged",
        params: appParams,
        querystring: pageQuery(1000).extend({ status: userStatus.optional() }),
      },
    },
    async (request) => {
      await loadApp(ctx, request.params.appId);
      const { pageToken: token } = request.query;
      const status =
        request.query.status === undefined
          ? undefined
          : STATUS_FILTER[
              enumFromJson(UserStatus, request.query.status) ?? UserStatus.USER_STATUS_UNSPECIFIED
            ];
      const page = await listUsers(ctx.bus, request.params.appId, {
        ...(status === undefined ? {} : { status }),
        pageSize: request.query.pageSize ?? DEFAULT_PAGE,
        ...(token === undefined || token === "" ? {} : { pageToken: token }),
      });
      return { users: page.users.map((u) => UserPresence.toJSON(u)), nextPageToken: page.nextPageToken };
    },
  );

  app.get(
    "/v1/apps/:appId/presence/users/:userId",
    {
      config: { access: "app" },
      schema: { tags: ["presence"], summary: "One user's presence", params: appParams.extend({ userId }) },
    },
    async (request) => {
      const { appId, userId: user } = request.params;
      await loadApp(ctx, appId);
      const presence = await getUserPresence(ctx.bus, appId, user);
      if (presence === undefined)
        throw notFound("userId", `user ${user} of app ${appId} has no presence on record`);
      return UserPresence.toJSON(presence);
    },
  );

  app.get(
    "/v1/apps/:appId/nodes",
    {
      config: { access: "app" },
      schema: {
        tags: ["presence"],
        summary: "Chat-core nodes: last heartbeat, lease and connections",
        description:
          "Every chat-core node of the app that Herald knows of, by node id: the nodes that sent a heartbeat " +
          "(node.heartbeat) or a reset (node.reset), and the nodes users hold connections on.",
        params: appParams,
        response: { 200: nodesResponse },
      },
    },
    async (request): Promise<NodeList> => {
      await loadApp(ctx, request.params.appId);
      const nodes = await listNodes(ctx.bus, request.params.appId);
      return { now: new Date().toISOString(), nodes: nodes.map(nodeJson) };
    },
  );

  app.get(
    "/v1/apps/:appId/rooms",
    {
      config: { access: "app" },
      schema: {
        tags: ["chatroom"],
        summary: "Rooms that exist, paged",
        params: appParams,
        querystring: pageQuery(1000),
      },
    },
    async (request) => {
      const { appId } = request.params;
      await loadApp(ctx, appId);
      const page = await listRooms(ctx.bus, appId, {
        pageSize: request.query.pageSize ?? DEFAULT_PAGE,
        pageToken: request.query.pageToken ?? "",
      });
      return { rooms: page.rooms.map((r) => Room.toJSON(r)), nextPageToken: page.nextPageToken };
    },
  );

  app.get(
    "/v1/apps/:appId/rooms/:roomId",
    {
      config: { access: "app" },
      schema: { tags: ["chatroom"], summary: "One room", params: appParams.extend({ roomId }) },
    },
    async (request) => {
      const { appId, roomId: room } = request.params;
      await loadApp(ctx, appId);
      const found = await getRoom(ctx.bus, appId, room);
      if (found === undefined) throw notFound("roomId", `room ${room} of app ${appId} does not exist`);
      return Room.toJSON(found);
    },
  );

  app.get(
    "/v1/apps/:appId/rooms/:roomId/members",
    {
      config: { access: "app" },
      schema: {
        tags: ["chatroom"],
        summary: "Members of a room, paged",
        params: appParams.extend({ roomId }),
        querystring: pageQuery(MAX_MEMBERS_PAGE),
      },
    },
    async (request) => {
      const { appId, roomId: room } = request.params;
      await loadApp(ctx, appId);
      const token = request.query.pageToken;
      const page = await listRoomMembers(ctx.bus, appId, room, {
        pageSize: request.query.pageSize ?? DEFAULT_PAGE,
        ...(token === undefined || token === "" ? {} : { pageToken: token }),
      });
      if (page === undefined) throw notFound("roomId", `room ${room} of app ${appId} does not exist`);
      return { members: page.members.map((m) => RoomMember.toJSON(m)), nextPageToken: page.nextPageToken };
    },
  );

  app.get(
    "/v1/apps/:appId/users/:userId/rooms",
    {
      config: { access: "app" },
      schema: {
        tags: ["chatroom"],
        summary: "The rooms a user is in",
        params: appParams.extend({ userId }),
      },
    },
    async (request) => {
      await loadApp(ctx, request.params.appId);
      return { roomIds: await listUserRooms(ctx.bus, request.params.appId, request.params.userId) };
    },
  );
}

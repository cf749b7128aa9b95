import {
  durationFromMs,
  NodeLeaseStatus,
  NodeResetReason,
  UserStatus,
  type ChatCoreNode,
  type GetUserPresenceRequest,
  type GetUserPresenceResponse,
  type ListUsersRequest,
  type ListNodesRequest,
  type ListNodesResponse,
  type ListUsersResponse,
  type PresenceServiceServer,
} from "@herald/proto";
import { getUserPresence, listNodes, listUsers, type NodeView } from "@herald/presence";
import type { Bus } from "@herald/bus";
import { NotFoundError, ValidationError, type Logger } from "@herald/runtime";
import { queryHandler, required } from "./query-handler.js";

const MAX_PAGE = 1000;

const LEASE_STATUS: Record<NodeView["status"], NodeLeaseStatus> = {
  leased: NodeLeaseStatus.NODE_LEASE_STATUS_LEASED,
  expired: NodeLeaseStatus.NODE_LEASE_STATUS_EXPIRED,
  reset: NodeLeaseStatus.NODE_LEASE_STATUS_RESET,
  unleased: NodeLeaseStatus.NODE_LEASE_STATUS_UNLEASED,
};

const RESET_REASON: Record<NonNullable<NodeView["resetReason"]>, NodeResetReason> = {
  reported: NodeResetReason.NODE_RESET_REASON_REPORTED,
  lease_expired: NodeResetReason.NODE_RESET_REASON_LEASE_EXPIRED,
};

/** A node as the gRPC API shows it: absent times and no lease stay unset. */
function toChatCoreNode(node: NodeView): ChatCoreNode {
  const date = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));
  return {
    appId: node.appId,
    nodeId: node.nodeId,
    status: LEASE_STATUS[node.status],
    lastHeartbeat: date(node.lastHeartbeatAt),
    lease: node.leaseMs > 0 ? durationFromMs(node.leaseMs) : undefined,
    leaseExpiresAt: date(node.leaseExpiresAt),
    resetAt: date(node.resetAt),
    resetReason:
      node.resetReason === undefined
        ? NodeResetReason.NODE_RESET_REASON_UNSPECIFIED
        : RESET_REASON[node.resetReason],
    connections: node.connections,
  };
}

/** Presence queries, answered from the presence state in KV. */
export function createPresenceService(bus: Bus, log: Logger): PresenceServiceServer {
  const answer = queryHandler(log, "presence");
  return {
    getUserPresence: answer<GetUserPresenceRequest, GetUserPresenceResponse>(async (req) => {
      required("app_id", req.appId);
      required("user_id", req.userId);
      const presence = await getUserPresence(bus, req.appId, req.userId);
      if (presence === undefined) {
        throw new NotFoundError(`user ${req.userId} of app ${req.appId} has no presence on record`, {
          resource: "user",
          id: req.userId,
        });
      }
      return { presence };
    }),
    listUsers: answer<ListUsersRequest, ListUsersResponse>(async (req) => {
      required("app_id", req.appId);
      if (req.pageSize < 0 || req.pageSize > MAX_PAGE) {
        throw new ValidationError(`page_size: must be 0 (default 100) to ${MAX_PAGE}`, {
          field: "page_size",
        });
      }
      const status =
        req.status === UserStatus.USER_STATUS_ONLINE
          ? "online"
          : req.status === UserStatus.USER_STATUS_OFFLINE
            ? "offline"
            : undefined;
      return listUsers(bus, req.appId, {
        status,
        platformId: req.platformId === 0 ? undefined : req.platformId,
        pageSize: req.pageSize === 0 ? 100 : req.pageSize,
        pageToken: req.pageToken === "" ? undefined : req.pageToken,
      });
    }),
    listNodes: answer<ListNodesRequest, ListNodesResponse>(async (req) => {
      required("app_id", req.appId);
      const nodes = await listNodes(bus, req.appId);
      return { nodes: nodes.map(toChatCoreNode) };
    }),
  };
}

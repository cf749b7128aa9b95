import {
  UserStatus,
  type GetUserPresenceRequest,
  type GetUserPresenceResponse,
  type ListUsersRequest,
  type ListUsersResponse,
  type PresenceServiceServer,
} from "@herald/proto";
import { getUserPresence, listUsers } from "@herald/presence";
import type { Bus } from "@herald/bus";
import { NotFoundError, ValidationError, type Logger } from "@herald/runtime";
import { queryHandler, required } from "./query-handler.js";

const MAX_PAGE = 1000;

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
  };
}

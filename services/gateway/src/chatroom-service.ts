import type {
  ChatroomServiceServer,
  GetRoomRequest,
  GetRoomResponse,
  ListRoomMembersRequest,
  ListRoomMembersResponse,
  ListUserRoomsRequest,
  ListUserRoomsResponse,
} from "@herald/proto";
import { getRoom, listRoomMembers, listUserRooms, MAX_MEMBERS_PAGE } from "@herald/chatroom";
import type { Bus } from "@herald/bus";
import { NotFoundError, ValidationError, type Logger } from "@herald/runtime";
import { queryHandler, required } from "./query-handler.js";

const DEFAULT_PAGE = 100;

/** Chatroom queries, answered from the chatroom state in KV. */
export function createChatroomService(bus: Bus, log: Logger): ChatroomServiceServer {
  const answer = queryHandler(log, "chatroom");
  const noRoom = (req: { appId: string; roomId: string }) =>
    new NotFoundError(`room ${req.roomId} of app ${req.appId} does not exist`, {
      resource: "room",
      id: req.roomId,
    });
  return {
    getRoom: answer<GetRoomRequest, GetRoomResponse>(async (req) => {
      required("app_id", req.appId);
      required("room_id", req.roomId);
      const room = await getRoom(bus, req.appId, req.roomId);
      if (room === undefined) throw noRoom(req);
      return { room };
    }),
    listRoomMembers: answer<ListRoomMembersRequest, ListRoomMembersResponse>(async (req) => {
      required("app_id", req.appId);
      required("room_id", req.roomId);
      if (req.pageSize < 0 || req.pageSize > MAX_MEMBERS_PAGE) {
        throw new ValidationError(`page_size: must be 0 (default ${DEFAULT_PAGE}) to ${MAX_MEMBERS_PAGE}`, {
          field: "page_size",
        });
      }
      const page = await listRoomMembers(bus, req.appId, req.roomId, {
        pageSize: req.pageSize === 0 ? DEFAULT_PAGE : req.pageSize,
        ...(req.pageToken === "" ? {} : { pageToken: req.pageToken }),
      });
      if (page === undefined) throw noRoom(req);
      return page;
    }),
    listUserRooms: answer<ListUserRoomsRequest, ListUserRoomsResponse>(async (req) => {
      required("app_id", req.appId);
      required("user_id", req.userId);
      return { roomIds: await listUserRooms(bus, req.appId, req.userId) };
    }),
  };
}

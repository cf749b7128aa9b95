import type { Bus } from "@herald/bus";
import type { Room, RoomMember } from "@herald/proto";
import { ValidationError } from "@herald/runtime";
import { roomKeys } from "./keys.js";
import { readKeys, readRoomMeta } from "./store.js";

export interface ListRoomMembersQuery {
  pageSize: number;
  /** The nextPageToken of the previous page. */
  pageToken?: string;
}

/** The largest page of ListRoomMembers. */
export const MAX_MEMBERS_PAGE = 10_000;

/** A room that exists (created and not destroyed), or undefined. */
export async function getRoom(bus: Bus, appId: string, roomId: string): Promise<Room | undefined> {
  const kv = await bus.kv(bus.names.buckets.rooms);
  const { meta } = await readRoomMeta(kv, roomKeys.room(appId, roomId));
  if (meta === undefined || !meta.exists) return undefined;
  return { appId, roomId, memberCount: meta.memberCount, createdAt: new Date(meta.createdAt) };
}

/**
 * Members of a room in the order of their encoded ids, or undefined when the room does not exist.
 * The page token is the encoded id of the last member returned; "" means there is no next page.
 */
export async function listRoomMembers(
  bus: Bus,
  appId: string,
  roomId: string,
  q: ListRoomMembersQuery,
): Promise<{ members: RoomMember[]; nextPageToken: string } | undefined> {
  if (!Number.isInteger(q.pageSize) || q.pageSize < 1 || q.pageSize > MAX_MEMBERS_PAGE) {
    throw new ValidationError(`page_size: must be 1-${MAX_MEMBERS_PAGE}, got ${q.pageSize}`, {
      field: "page_size",
    });
  }
  const after = q.pageToken ?? "";
  if (!/^[A-Za-z0-9_=-]*$/.test(after)) {
    throw new ValidationError("page_token: not one this server gave", { field: "page_token" });
  }
  if ((await getRoom(bus, appId, roomId)) === undefined) return undefined;
  const kv = await bus.kv(bus.names.buckets.rooms);
  // One ordered consumer reads every membership with its value: no request per member.
  const entries = [...(await readKeys(kv, roomKeys.members(appId, roomId)))]
    .map(([key, joinedAt]) => ({ token: key.slice(key.lastIndexOf(".") + 1), key, joinedAt }))
    .filter((e) => e.token > after)
    .sort((a, b) => (a.token < b.token ? -1 : 1));
  const page = entries.slice(0, q.pageSize);
  return {
    members: page.map((e) => ({ userId: roomKeys.lastId(e.key), joinedAt: new Date(Number(e.joinedAt)) })),
    nextPageToken: entries.length > q.pageSize ? (page[page.length - 1]?.token ?? "") : "",
  };
}

/** The rooms a user is in, sorted by id. */
export async function listUserRooms(bus: Bus, appId: string, userId: string): Promise<string[]> {
  const kv = await bus.kv(bus.names.buckets.rooms);
  const rooms: string[] = [];
  for await (const key of await kv.keys(roomKeys.userRooms(appId, userId))) rooms.push(roomKeys.lastId(key));
  return rooms.sort();
}

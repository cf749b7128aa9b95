import { partitionOf, readCurrent, readCurrentPage } from "@herald/bus";
import type { Bus } from "@herald/bus";
import type { Room, RoomMember } from "@herald/proto";
import { ValidationError } from "@herald/runtime";
import { roomKeys } from "./keys.js";
import { decodeRoomMeta } from "./state.js";

export interface ListRoomMembersQuery {
  pageSize: number;
  /** The nextPageToken of the previous page. */
  pageToken?: string;
}

/** The largest page of ListRoomMembers. */
export const MAX_MEMBERS_PAGE = 10_000;

export interface ListRoomsQuery {
  pageSize: number;
  /** The nextPageToken of the previous page. */
  pageToken?: string;
}

function checkPageSize(q: { pageSize: number }, max: number): void {
  if (!Number.isInteger(q.pageSize) || q.pageSize < 1 || q.pageSize > max) {
    throw new ValidationError(`page_size: must be 1-${max}, got ${q.pageSize}`, { field: "page_size" });
  }
}

function checkPage(q: { pageSize: number; pageToken?: string }, max: number): string {
  checkPageSize(q, max);
  const after = q.pageToken ?? "";
  if (!/^[A-Za-z0-9_=-]*$/.test(after)) {
    throw new ValidationError("page_token: not one this server gave", { field: "page_token" });
  }
  return after;
}

function roomPartition(bus: Bus, appId: string, roomId: string): number {
  return partitionOf(appId, roomId, bus.layout.partitions);
}

/** A room that exists (created and not destroyed), or undefined. */
export async function getRoom(bus: Bus, appId: string, roomId: string): Promise<Room | undefined> {
  const kv = await bus.kv(bus.names.buckets.rooms);
  const entry = await kv.get(roomKeys.room(roomPartition(bus, appId, roomId), appId, roomId));
  if (entry === null || entry.operation !== "PUT" || entry.length === 0) return undefined;
  const meta = decodeRoomMeta(entry.value);
  if (!meta.exists) return undefined;
  return { appId, roomId, memberCount: meta.memberCount, createdAt: new Date(meta.createdAt) };
}

/**
 * Members of a room in the order their memberships were written, or undefined when the room does not
 * exist. A page reads its own members only, whatever the size of the room. The page token is the
 * revision of the last member returned; "" means there is no next page. A membership written again
 * while a room is paged (a leave and a join) may come twice; none is left out.
 */
export async function listRoomMembers(
  bus: Bus,
  appId: string,
  roomId: string,
  q: ListRoomMembersQuery,
): Promise<{ members: RoomMember[]; nextPageToken: string } | undefined> {
  checkPageSize(q, MAX_MEMBERS_PAGE);
  const after = q.pageToken ?? "";
  if (!/^\d{0,16}$/.test(after)) {
    throw new ValidationError("page_token: not one this server gave", { field: "page_token" });
  }
  if ((await getRoom(bus, appId, roomId)) === undefined) return undefined;
  const filter = roomKeys.members(roomPartition(bus, appId, roomId), appId, roomId);
  const page = await readCurrentPage(bus, bus.names.buckets.rooms, filter, {
    after: Number(after),
    limit: q.pageSize,
  });
  return {
    members: page.entries.map((e) => ({
      userId: roomKeys.lastId(e.key),
      joinedAt: new Date(Number(new TextDecoder().decode(e.value))),
    })),
    nextPageToken: page.nextAfter === 0 ? "" : String(page.nextAfter),
  };
}

/**
 * Rooms of an app that exist, from every partition, in the order of their encoded ids. The page
 * token is the encoded id of the last room returned; "" means there is no next page.
 */
export async function listRooms(
  bus: Bus,
  appId: string,
  q: ListRoomsQuery,
): Promise<{ rooms: Room[]; nextPageToken: string }> {
  const after = checkPage(q, MAX_MEMBERS_PAGE);
  const found: { token: string; room: Room }[] = [];
  for await (const e of readCurrent(bus, bus.names.buckets.rooms, roomKeys.appRooms(appId))) {
    const token = e.key.slice(e.key.lastIndexOf(".") + 1);
    const meta = decodeRoomMeta(e.value);
    if (token <= after || !meta.exists) continue;
    found.push({
      token,
      room: {
        appId,
        roomId: meta.roomId,
        memberCount: meta.memberCount,
        createdAt: new Date(meta.createdAt),
      },
    });
  }
  found.sort((a, b) => (a.token < b.token ? -1 : 1));
  const page = found.slice(0, q.pageSize);
  return {
    rooms: page.map((f) => f.room),
    nextPageToken: found.length > q.pageSize ? (page[page.length - 1]?.token ?? "") : "",
  };
}

/** The rooms a user is in, sorted by id. */
export async function listUserRooms(bus: Bus, appId: string, userId: string): Promise<string[]> {
  const rooms: string[] = [];
  for await (const e of readCurrent(bus, bus.names.buckets.rooms, roomKeys.userRooms(appId, userId))) {
    rooms.push(roomKeys.lastId(e.key));
  }
  return rooms.sort();
}

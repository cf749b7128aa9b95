import { Event } from "@herald/proto";

/** The outcome of the last applied change, redone by whoever finds it unfinished (idempotent). */
export interface RoomOutbox {
  /** Stream sequence of the change. */
  seq: number;
  /** Membership keys to write; `destroyed` deletes every membership key of the room instead. */
  joined: string[];
  left: string[];
  destroyed: boolean;
  /** When the change was applied (ms): joinedAt of its memberships. */
  at: number;
  /** Base64 protobuf Events derived by the change (room.status). */
  events: string[];
  /** Wall-clock ms when the change was written: its events are published again only within dedup. */
  writtenAt: number;
}

/** The state of one room, stored as JSON under r.<app>.<room>; never grows with the room. */
export interface RoomMeta {
  appId: string;
  roomId: string;
  /** False once destroyed: the key stays as a tombstone that remembers the applied seqs. */
  exists: boolean;
  /** Milliseconds since the epoch (the create's occurredAt). */
  createdAt: number;
  memberCount: number;
  /** When the last change was applied (ms). */
  lastActivity: number;
  /** Highest stream sequence applied. */
  lastSeq: number;
  /** The latest applied sequences (at most RECENT_SEQS), so a redelivery is recognised. */
  recent: number[];
  outbox: RoomOutbox;
}

/** How many applied sequences a room remembers; anything older than all of them counts as applied. */
export const RECENT_SEQS = 64;

export function emptyRoomMeta(appId: string, roomId: string): RoomMeta {
  return {
    appId,
    roomId,
    exists: false,
    createdAt: 0,
    memberCount: 0,
    lastActivity: 0,
    lastSeq: 0,
    recent: [],
    outbox: { seq: 0, joined: [], left: [], destroyed: false, at: 0, events: [], writtenAt: 0 },
  };
}

export function encodeRoomMeta(meta: RoomMeta): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(meta));
}

export function decodeRoomMeta(data: Uint8Array): RoomMeta {
  return JSON.parse(new TextDecoder().decode(data)) as RoomMeta;
}

export function encodeEvents(events: readonly Event[]): string[] {
  return events.map((e) => Buffer.from(Event.encode(e).finish()).toString("base64"));
}

export function outboxEvents(outbox: RoomOutbox): Event[] {
  return outbox.events.map((b64) => Event.decode(Buffer.from(b64, "base64")));
}

/** True when the room already applied the change stored at `seq`. */
export function hasApplied(meta: RoomMeta, seq: number): boolean {
  if (meta.recent.includes(seq)) return true;
  // Replicas may apply a room's events slightly out of order: the oldest is the smallest, not the first.
  return meta.recent.length >= RECENT_SEQS && seq < Math.min(...meta.recent);
}

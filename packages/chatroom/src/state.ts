/** The state of one room, stored as JSON under r.<p>.<app>.<room>; never grows with the room. */
export interface RoomMeta {
  appId: string;
  roomId: string;
  /** False once destroyed: the key stays as a tombstone that remembers the last applied seq. */
  exists: boolean;
  /** Milliseconds since the epoch (the create's occurredAt). */
  createdAt: number;
  memberCount: number;
  /** When the last change happened (its occurredAt, ms). */
  lastActivity: number;
  /** Stream sequence of the last applied change: a room's events come in stream order, so anything at or below it is applied. */
  lastSeq: number;
  /** When the last change was folded (its stored time, ms): the idle-destroy clock. */
  changedAt: number;
  /**
   * Sequences of the changes applied in the batch being written: its memberships may be missing
   * if the owner crashed between the states and the side keys, so a replay redoes them.
   */
  batch: number[];
}

/** A room in memory: the meta (the stored state) and its members (loaded from the m. keys). */
export interface RoomState {
  meta: RoomMeta;
  members: Set<string>;
}

export function emptyRoomMeta(appId: string, roomId: string): RoomMeta {
  return {
    appId,
    roomId,
    exists: false,
    createdAt: 0,
    memberCount: 0,
    lastActivity: 0,
    lastSeq: 0,
    changedAt: 0,
    batch: [],
  };
}

export function encodeRoomMeta(meta: RoomMeta): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(meta));
}

export function decodeRoomMeta(data: Uint8Array): RoomMeta {
  return { ...emptyRoomMeta("", ""), ...(JSON.parse(new TextDecoder().decode(data)) as Partial<RoomMeta>) };
}

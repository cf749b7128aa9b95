import type { Event } from "@herald/proto";

/** One entry of RongCloud's chatroom status sync (docs.rongcloud.io platform-chat-api/chatroom/status). */
export interface RongCloudChatroomRecord {
  chatRoomId: string;
  /** The users who joined or left; empty for create and destroy. */
  userIds: string[];
  /** 0 by API call, 1 auto-kicked, 2 banned, 3 auto-destroyed. */
  status: number;
  /** 0 create, 1 join, 2 leave, 3 destroy. */
  type: number;
  /** Epoch milliseconds. */
  time: number;
}

/** The record of a room.status event; any other event renders nothing. */
export function rongCloudChatroomRecord(event: Event): RongCloudChatroomRecord | undefined {
  const payload = event.payload;
  if (payload?.$case !== "roomStatus") return undefined;
  const s = payload.value;
  // Key order is RongCloud's: receivers comparing bytes see the documented body.
  return { chatRoomId: s.roomId, userIds: [...s.userIds], status: s.status, type: s.kind, time: s.time };
}

/** The body RongCloud POSTs: a JSON array of records, one request for a batch. */
export function renderRongCloudChatroomBatch(records: readonly RongCloudChatroomRecord[]): string {
  return JSON.stringify(
    records.map((r) => ({
      chatRoomId: r.chatRoomId,
      userIds: r.userIds,
      status: r.status,
      type: r.type,
      time: r.time,
    })),
  );
}

import { createHash } from "node:crypto";
import { OfflineReason, type Event, type MessageSent, type RoomStatus } from "@herald/proto";
import { occurredAtMs } from "../openim/presence-event.js";
import type { JsonObject } from "../types.js";
import { tencentOptPlatform, type TencentPlatform } from "./platform.js";

/** One after-callback: its command, body and the client facts that go in the URL. */
export interface TencentCallback {
  command: string;
  body: JsonObject;
  clientIp: string;
  optPlatform: TencentPlatform;
}

export const TENCENT_AFTER_COMMANDS = Object.freeze({
  stateChange: "State.StateChange",
  c2cAfterSend: "C2C.CallbackAfterSendMsg",
  groupAfterSend: "Group.CallbackAfterSendMsg",
  memberJoin: "Group.CallbackAfterNewMemberJoin",
  memberExit: "Group.CallbackAfterMemberExit",
} as const);

// Tencent's Action/Reason per Herald reason. A kicked connection is what Tencent SDKs before 5.6.1200
// report for a multi-device kick (Logout); the login that kicked it carries no KickedDevice, since the
// chat core reports the kick on the connection that goes, not the one that comes.
const OFFLINE: ReadonlyMap<OfflineReason, { Action: string; Reason: string }> = new Map([
  [OfflineReason.OFFLINE_REASON_LOGOUT, { Action: "Logout", Reason: "Unregister" }],
  [OfflineReason.OFFLINE_REASON_DISCONNECT, { Action: "Disconnect", Reason: "LinkClose" }],
  [OfflineReason.OFFLINE_REASON_TIMEOUT, { Action: "Disconnect", Reason: "TimeOut" }],
  [OfflineReason.OFFLINE_REASON_KICKED, { Action: "Logout", Reason: "Unregister" }],
]);
const UNKNOWN_OFFLINE = { Action: "Disconnect", Reason: "LinkClose" };

const ROOM_JOIN = 1;
const ROOM_LEAVE = 2;
const ROOM_BY_API = 0;
// OpenIM's text content type: its content is `{"content":"…"}`.
const OPENIM_TEXT = 101;

/**
 * Tencent's after-callback for an event: State.StateChange for each connection's login and logout
 * (Tencent's is per login), C2C / Group.CallbackAfterSendMsg for a message, and
 * Group.CallbackAfterNewMemberJoin / AfterMemberExit for a room's joins and leaves. Anything else: undefined.
 */
export function tencentAfterCallback(event: Event): TencentCallback | undefined {
  const payload = event.payload;
  switch (payload?.$case) {
    case "connectionOnline": {
      const v = payload.value;
      return stateChange(event, v.userId, { Action: "Login", Reason: "Register" }, v.clientIp, v);
    }
    case "connectionOffline": {
      const v = payload.value;
      return stateChange(event, v.userId, OFFLINE.get(v.reason) ?? UNKNOWN_OFFLINE, "", v);
    }
    case "messageSent":
      return messageSent(event, payload.value);
    case "roomStatus":
      return memberChange(payload.value);
    default:
      return undefined;
  }
}

/** Whether tencentAfterCallback has a callback for the event, without rendering it. */
export function tencentSays(event: Event): boolean {
  const payload = event.payload;
  switch (payload?.$case) {
    case "connectionOnline":
    case "connectionOffline":
    case "messageSent":
      return true;
    case "roomStatus":
      return payload.value.kind === ROOM_JOIN || payload.value.kind === ROOM_LEAVE;
    default:
      return false;
  }
}

function stateChange(
  event: Event,
  userId: string,
  change: { Action: string; Reason: string },
  clientIp: string,
  platform: { platformId: number; platform: string },
): TencentCallback {
  const command = TENCENT_AFTER_COMMANDS.stateChange;
  return {
    command,
    body: {
      CallbackCommand: command,
      EventTime: occurredAtMs(event),
      Info: { Action: change.Action, To_Account: userId, Reason: change.Reason },
    },
    clientIp,
    optPlatform: tencentOptPlatform(platform.platformId, platform.platform),
  };
}

function messageSent(event: Event, sent: MessageSent): TencentCallback {
  const eventTime = occurredAtMs(event);
  const msgTime = Math.floor((sent.sentAt?.getTime() ?? eventTime) / 1000);
  const random = msgRandom(sent.messageId);
  const body = tencentMsgBody(sent);
  const custom = sent.ex === "" ? {} : { CloudCustomData: sent.ex };
  const optPlatform = tencentOptPlatform(sent.senderPlatformId, "");
  if (sent.groupId !== "") {
    const command = TENCENT_AFTER_COMMANDS.groupAfterSend;
    return {
      command,
      body: {
        CallbackCommand: command,
        GroupId: sent.groupId,
        From_Account: sent.fromUserId,
        Operator_Account: sent.fromUserId,
        Random: random,
        MsgSeq: sent.seq,
        MsgTime: msgTime,
        OnlineOnlyFlag: 0,
        MsgBody: body,
        ...custom,
        EventTime: eventTime,
      },
      clientIp: "",
      optPlatform,
    };
  }
  const command = TENCENT_AFTER_COMMANDS.c2cAfterSend;
  return {
    command,
    body: {
      CallbackCommand: command,
      From_Account: sent.fromUserId,
      To_Account: sent.toUserId,
      MsgSeq: sent.seq,
      MsgRandom: random,
      MsgTime: msgTime,
      MsgKey: `${sent.seq}_${random}_${msgTime}`,
      MsgId: sent.messageId,
      OnlineOnlyFlag: 0,
      SendMsgResult: 0,
      ErrorInfo: "send msg succeed",
      MsgBody: body,
      ...custom,
      EventTime: eventTime,
    },
    clientIp: "",
    optPlatform,
  };
}

/**
 * The message as Tencent's MsgBody: text (OpenIM's 101, whose `{"content"}` is unwrapped, or an
 * MQTT-chat type 0 message) is a TIMTextElem; anything else a TIMCustomElem carrying the content as Data.
 */
export function tencentMsgBody(sent: MessageSent): JsonObject[] {
  const text =
    sent.contentType === OPENIM_TEXT
      ? openImText(sent.content)
      : sent.contentType === 0 && sent.type === 0
        ? sent.content
        : undefined;
  if (text !== undefined) return [{ MsgType: "TIMTextElem", MsgContent: { Text: text } }];
  return [{ MsgType: "TIMCustomElem", MsgContent: { Data: sent.content, Desc: "", Ext: "" } }];
}

function openImText(content: string): string {
  try {
    const parsed: unknown = JSON.parse(content);
    if (
      typeof parsed === "object" &&
      parsed !== null &&
      typeof (parsed as JsonObject)["content"] === "string"
    ) {
      return (parsed as { content: string }).content;
    }
  } catch {
    // not OpenIM's wrapper: the content is the text
  }
  return content;
}

// Tencent's MsgRandom is the sender's 32-bit random; Herald derives one from the message id, so every
// attempt and every receiver sees the same MsgKey.
function msgRandom(messageId: string): number {
  return createHash("sha256").update(messageId, "utf8").digest().readUInt32BE(0);
}

function memberChange(status: RoomStatus): TencentCallback | undefined {
  const members = status.userIds.map((id) => ({ Member_Account: id }));
  // One user joining or quitting by themselves is their own operator; a kick's operator is not known.
  const selfOperated =
    status.status === ROOM_BY_API && status.userIds.length === 1 ? (status.userIds[0] ?? "") : "";
  const common = { clientIp: "", optPlatform: "Unknown" as const };
  if (status.kind === ROOM_JOIN) {
    const command = TENCENT_AFTER_COMMANDS.memberJoin;
    return {
      command,
      body: {
        CallbackCommand: command,
        GroupId: status.roomId,
        JoinType: "Apply",
        Operator_Account: selfOperated,
        NewMemberList: members,
        EventTime: status.time,
      },
      ...common,
    };
  }
  if (status.kind === ROOM_LEAVE) {
    const command = TENCENT_AFTER_COMMANDS.memberExit;
    return {
      command,
      body: {
        CallbackCommand: command,
        GroupId: status.roomId,
        ExitType: status.status === ROOM_BY_API ? "Quit" : "Kicked",
        Operator_Account: selfOperated,
        ExitMemberList: members,
        EventTime: status.time,
      },
      ...common,
    };
  }
  return undefined;
}

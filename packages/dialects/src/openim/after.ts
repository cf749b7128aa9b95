import type { Event, MessageSent } from "@herald/proto";
import type { HttpRequestSpec } from "../types.js";
import { renderOpenImBefore } from "./before.js";
import { findOpenImHook, openImCommand } from "./hooks.js";
import { parsePassthroughPayload } from "./passthrough.js";
import { renderOpenImConnection, renderOpenImPresence, type OpenImPresenceOptions } from "./presence.js";
import { occurredAtMs } from "./presence-event.js";

export type OpenImAfterOptions = OpenImPresenceOptions;

// OpenIM's constants: sessionType 1 single, 3 group; msgFrom 100 user; status 2 "send success".
const SINGLE_CHAT = 1;
const GROUP_CHAT = 3;
const MSG_FROM_USER = 100;
const MSG_STATUS_SEND_SUCCESS = 2;

/**
 * The OpenIM after-hook request of an event, through renderOpenImBefore (same URL styles and headers):
 * msg.sent → afterSendSingleMsg (+ recvID) or, with a group id, afterSendGroupMsg (+ groupID), body keys in
 * CommonCallbackReq's order; `openim.<command>` passthrough → its payload_json with callbackCommand and
 * operationID set; a connection's login/logout → renderOpenImConnection; the user's change →
 * renderOpenImPresence. Anything else renders nothing.
 */
export function renderOpenImAfter(event: Event, opts: OpenImAfterOptions): HttpRequestSpec | undefined {
  const payload = event.payload;
  switch (payload?.$case) {
    case "messageSent":
      return renderAfterSend(event, payload.value, opts);
    case "passthrough":
      return renderOpenImBefore({
        baseUrl: opts.baseUrl,
        urlStyle: opts.urlStyle,
        command: payload.value.command,
        operationId: operationIdOf(event),
        payload: parsePassthroughPayload(event.id, payload.value.payloadJson),
      });
    case "connectionOnline":
    case "connectionOffline":
      return renderOpenImConnection(event, opts);
    case "userOnline":
    case "userOffline":
      return renderOpenImPresence(event, opts);
    default:
      return undefined;
  }
}

function renderAfterSend(event: Event, sent: MessageSent, opts: OpenImAfterOptions): HttpRequestSpec {
  const isGroup = sent.groupId !== "";
  const hook = findOpenImHook(isGroup ? "afterSendGroupMsg" : "afterSendSingleMsg");
  if (hook === undefined) throw new Error("OPENIM_HOOKS lacks the after-send hooks");
  const command = openImCommand(hook, opts.naming);
  const operationId = operationIdOf(event);
  const sentAtMs = sent.sentAt === undefined ? occurredAtMs(event) : sent.sentAt.getTime();
  const common = {
    sendID: sent.fromUserId,
    callbackCommand: command,
    serverMsgID: sent.messageId,
    clientMsgID: sent.clientMsgId,
    operationID: operationId,
    senderPlatformID: sent.senderPlatformId,
    senderNickname: sent.senderNickname,
    sessionType: sent.sessionType === 0 ? (isGroup ? GROUP_CHAT : SINGLE_CHAT) : sent.sessionType,
    msgFrom: MSG_FROM_USER,
    contentType: sent.contentType,
    status: MSG_STATUS_SEND_SUCCESS,
    sendTime: sentAtMs,
    createTime: sentAtMs,
    content: sent.content,
    seq: sent.seq,
    // Go encodes a nil slice as null, and OpenIM sends every field.
    atUserList: sent.atUserIds.length === 0 ? null : [...sent.atUserIds],
    faceURL: sent.senderFaceUrl,
    ex: sent.ex,
  };
  return renderOpenImBefore({
    baseUrl: opts.baseUrl,
    urlStyle: opts.urlStyle,
    command,
    operationId,
    payload: isGroup ? { ...common, groupID: sent.groupId } : { ...common, recvID: sent.toUserId },
  });
}

// OpenIM requires an operationID for tracing; an event without one is traced by its own id.
function operationIdOf(event: Event): string {
  return event.operationId === "" ? event.id : event.operationId;
}

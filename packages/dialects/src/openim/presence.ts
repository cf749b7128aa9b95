import type { Event } from "@herald/proto";
import { occurredAtMs } from "./presence-event.js";
import type { HttpRequestSpec } from "../types.js";
import { renderOpenImBefore, type UrlStyle } from "./before.js";
import { findOpenImHook, openImCommand, type CommandNaming } from "./hooks.js";

export interface OpenImPresenceOptions {
  baseUrl: string;
  urlStyle: UrlStyle;
  naming: CommandNaming;
}

/**
 * The afterUserOnline / afterUserOffline request for a derived presence event. Body keys in seed 002's order
 * (userID, callbackCommand, seq, isAppBackground — online only —, connID), then Herald's platformID, platform,
 * operationID. Other event types render nothing: OpenIM has no background hook, and a node reset reaches
 * OpenIM as one user.offline per user.
 */
export function renderOpenImPresence(event: Event, opts: OpenImPresenceOptions): HttpRequestSpec | undefined {
  const payload = event.payload;
  if (payload?.$case === "userOnline") return presenceRequest(event, opts, payload.value, payload.value.seq);
  if (payload?.$case === "userOffline") return presenceRequest(event, opts, payload.value, payload.value.seq);
  return undefined;
}

/**
 * The afterUserOnline / afterUserOffline request for one connection's login (conn.online) or logout
 * (conn.offline), as OpenIM's msg-gateway sends it: one per connection, a user's second device included.
 * `seq` is the event's time in milliseconds (OpenIM's is a request sequence number, unique per request).
 */
export function renderOpenImConnection(
  event: Event,
  opts: OpenImPresenceOptions,
): HttpRequestSpec | undefined {
  const payload = event.payload;
  if (payload?.$case !== "connectionOnline" && payload?.$case !== "connectionOffline") return undefined;
  return presenceRequest(event, opts, payload.value, occurredAtMs(event));
}

interface PresenceFields {
  userId: string;
  connId: string;
  platformId: number;
  platform: string;
  /** Present on an online event only; its presence makes the request an online one. */
  isAppBackground?: boolean;
}

// Body keys in seed 002's order, isAppBackground only when online.
function presenceRequest(
  event: Event,
  opts: OpenImPresenceOptions,
  v: PresenceFields,
  seq: number,
): HttpRequestSpec {
  const online = v.isAppBackground !== undefined;
  const command = presenceCommand(online ? "afterUserOnline" : "afterUserOffline", opts.naming);
  return renderOpenImBefore({
    baseUrl: opts.baseUrl,
    urlStyle: opts.urlStyle,
    command,
    operationId: presenceOperationId(event),
    payload: {
      userID: v.userId,
      callbackCommand: command,
      seq,
      ...(online ? { isAppBackground: v.isAppBackground } : {}),
      connID: v.connId,
      platformID: v.platformId,
      platform: v.platform,
    },
  });
}

function presenceCommand(hookKey: "afterUserOnline" | "afterUserOffline", naming: CommandNaming): string {
  const hook = findOpenImHook(hookKey);
  if (hook === undefined) throw new Error(`OPENIM_HOOKS lacks ${hookKey}`);
  return openImCommand(hook, naming);
}

// OpenIM requires an operationID for tracing; a derived event without one is traced by its own id.
function presenceOperationId(event: Event): string {
  return event.operationId === "" ? event.id : event.operationId;
}

import type { AppConfig, Dialect, EndpointConfig } from "@herald/config";
import {
  OPENIM_WEBHOOKS_ENDPOINT_ID,
  eventTypeMatches,
  hookConfig,
  impliedEndpointCalls,
  impliedOpenImEndpoint,
  takesEventKind,
} from "@herald/config";
import { dialectOf, findOpenImHook, openImHookFires, parsePassthroughPayload } from "@herald/dialects";
import type { JsonObject, OpenImHook, TypeFilter } from "@herald/dialects";
import { Event, PASSTHROUGH_TYPE_PREFIX } from "@herald/proto";
import { endpointSays } from "./render.js";

/** Whether the dialect can say events of `type` (its registry entry's `renders`). */
export function dialectRenders(dialect: Dialect, type: string): boolean {
  return eventTypeMatches(dialectOf(dialect).renders, type);
}

// The after-hooks Herald can send, by the event type that triggers them: a connection's login or
// logout, and the user's change, are both OpenIM's afterUserOnline / afterUserOffline.
const AFTER_HOOKS_BY_TYPE: Readonly<Record<string, readonly string[]>> = {
  "msg.sent": ["afterSendSingleMsg", "afterSendGroupMsg"],
  "conn.online": ["afterUserOnline"],
  "conn.offline": ["afterUserOffline"],
  "user.online": ["afterUserOnline"],
  "user.offline": ["afterUserOffline"],
};

const endpointsCache = new WeakMap<AppConfig, readonly EndpointConfig[]>();

/** Every endpoint of an app: its own, and the one its webhooks.yml implies. Cached per config value. */
export function endpointsOf(app: AppConfig): readonly EndpointConfig[] {
  let endpoints = endpointsCache.get(app);
  if (endpoints === undefined) {
    const implied = impliedOpenImEndpoint(app);
    endpoints = implied === undefined ? app.endpoints : [...app.endpoints, implied];
    endpointsCache.set(app, endpoints);
  }
  return endpoints;
}

/**
 * The endpoints that take an event: operational events the operational endpoints, other events the
 * others; the type matches the endpoint's types and its dialect, and the
 * payload passes its filter, and the dialect says it. The payload is decoded only when a filter or the
 * dialect needs it.
 */
export function routeEvent(app: AppConfig, type: string, data: Uint8Array): EndpointConfig[] {
  let event: Event | undefined;
  const decoded = (): Event => (event ??= Event.decode(data));
  const targets: EndpointConfig[] = [];
  for (const endpoint of endpointsOf(app)) {
    if (!takesEventKind(endpoint, type)) continue;
    if (!eventTypeMatches(endpoint.eventTypes, type) || !dialectRenders(endpoint.dialect, type)) continue;
    const fires =
      endpoint.id === OPENIM_WEBHOOKS_ENDPOINT_ID && isImplied(app, endpoint)
        ? afterHookFires(app, type, decoded)
        : filterPasses(endpoint.filter, type, decoded);
    if (fires && saysAtRouting(endpoint, decoded)) targets.push(endpoint);
  }
  return targets;
}

/**
 * A dialect that decides by the event itself is asked when routing, so what it would not say (a
 * room's creation, for Tencent's member callbacks) makes no job rather than a dead one. A `says` that
 * throws (an event it cannot read) routes the event: sending reports it, as a dead job.
 */
function saysAtRouting(endpoint: EndpointConfig, decoded: () => Event): boolean {
  if (dialectOf(endpoint.dialect).says === undefined) return true;
  try {
    return endpointSays(endpoint, decoded());
  } catch {
    return true;
  }
}

function isImplied(app: AppConfig, endpoint: EndpointConfig): boolean {
  return !app.endpoints.includes(endpoint);
}

// The implied endpoint makes only the calls its hooks enable: a passthrough of a before-hook only when
// that hook is async, and nothing for a command the app did not turn on.
function afterHookFires(app: AppConfig, type: string, decoded: () => Event): boolean {
  const hook = afterHookOf(type, decoded);
  if (hook === undefined) return false;
  const config = hookConfig(app, hook.key);
  if (!impliedEndpointCalls(hook.key, config)) return false;
  return firesFor(hook, config, decoded());
}

/** The hook an event is the call of: an after-hook, or for a passthrough the hook its command names. */
function afterHookOf(type: string, decoded: () => Event): OpenImHook | undefined {
  if (type.startsWith(PASSTHROUGH_TYPE_PREFIX)) {
    return findOpenImHook(type.slice(PASSTHROUGH_TYPE_PREFIX.length));
  }
  const keys = AFTER_HOOKS_BY_TYPE[type];
  if (keys === undefined) return undefined;
  if (type === "msg.sent") {
    const payload = decoded().payload;
    const isGroup = payload?.$case === "messageSent" && payload.value.groupId !== "";
    return findOpenImHook(isGroup ? "afterSendGroupMsg" : "afterSendSingleMsg");
  }
  return findOpenImHook(keys[0] ?? "");
}

function filterPasses(filter: EndpointConfig["filter"], type: string, decoded: () => Event): boolean {
  const empty =
    filter.deniedTypes.length === 0 && filter.allowedTypes.length === 0 && filter.attentionIds.length === 0;
  if (empty) return true;
  const hook = afterHookOf(type, decoded) ?? findOpenImHook("afterUserOnline");
  return hook === undefined || firesFor(hook, filter, decoded());
}

function firesFor(hook: OpenImHook, filter: TypeFilter, event: Event): boolean {
  const payload = filterFields(event);
  return payload === undefined || openImHookFires(hook, filter, payload).fires;
}

// The fields OpenIM's filters read (contentType; sendID, recvID, groupID, userID), from any event.
function filterFields(event: Event): JsonObject | undefined {
  const payload = event.payload;
  switch (payload?.$case) {
    case "messageSent": {
      const sent = payload.value;
      return {
        contentType: sent.contentType,
        sendID: sent.fromUserId,
        recvID: sent.toUserId,
        groupID: sent.groupId,
      };
    }
    case "connectionOnline":
    case "connectionOffline":
    case "connectionBackground":
    case "userOnline":
    case "userOffline":
    case "userBackground":
      return { userID: payload.value.userId };
    case "passthrough":
      try {
        return parsePassthroughPayload(event.id, payload.value.payloadJson);
      } catch {
        return undefined; // rendering will report it, as a dead delivery
      }
    default:
      return undefined;
  }
}

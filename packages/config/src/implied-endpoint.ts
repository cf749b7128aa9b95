import type { AppConfig } from "./app-config.js";
import { validateEndpoint } from "./endpoint-config.js";
import type { EndpointConfig } from "./endpoint-config.js";
import { hookTimeoutMs, type HookConfig } from "./hook-config.js";
import { openImHookKey } from "./openim-hooks.js";

/**
 * The id of the endpoint an app's OpenIM webhooks.yml implies: the after-hooks it enables, and the
 * calls of its async before-hooks, sent to its `openim.url` in its URL style, as OpenIM itself would
 * (but retried). An explicit endpoint with this id replaces it.
 */
export const OPENIM_WEBHOOKS_ENDPOINT_ID = "openim";

/**
 * Whether the implied endpoint makes `hookKey`'s calls: an enabled after-hook, or an enabled before-hook
 * marked async (its call is a passthrough event the gateway stored before answering).
 */
export function impliedEndpointCalls(hookKey: string, hook: HookConfig): boolean {
  const kind = openImHookKey(hookKey)?.kind;
  return hook.enable && (kind === "after" || (kind === "before" && hook.async));
}

/** The endpoint the app's webhooks.yml implies; undefined when it makes no call or the id is taken. */
export function impliedOpenImEndpoint(app: AppConfig): EndpointConfig | undefined {
  if (app.openim === undefined || app.endpoints.some((e) => e.id === OPENIM_WEBHOOKS_ENDPOINT_ID)) {
    return undefined;
  }
  const calling = Object.entries(app.openim.hooks).filter(([key, hook]) => impliedEndpointCalls(key, hook));
  if (calling.length === 0) return undefined;
  return validateEndpoint({
    id: OPENIM_WEBHOOKS_ENDPOINT_ID,
    url: app.openim.url,
    dialect: "openim",
    openim: { urlStyle: app.openim.urlStyle, commandNames: app.openim.commandNames },
    timeoutMs: Math.max(...calling.map(([, hook]) => hookTimeoutMs(hook))),
  });
}

import type { AppConfig } from "./app-config.js";
import { validateEndpoint } from "./endpoint-config.js";
import type { EndpointConfig } from "./endpoint-config.js";
import { hookTimeoutMs } from "./hook-config.js";
import { openImHookKey } from "./openim-hooks.js";

/**
 * The id of the endpoint an app's OpenIM webhooks.yml implies: the after-hooks it enables, sent to
 * its `openim.url` in its URL style, as OpenIM itself would (but retried). An explicit endpoint with
 * this id replaces it.
 */
export const OPENIM_WEBHOOKS_ENDPOINT_ID = "openim";

/** The endpoint the app's webhooks.yml implies; undefined when no after-hook is on or the id is taken. */
export function impliedOpenImEndpoint(app: AppConfig): EndpointConfig | undefined {
  if (app.openim === undefined || app.endpoints.some((e) => e.id === OPENIM_WEBHOOKS_ENDPOINT_ID)) {
    return undefined;
  }
  const enabled = Object.entries(app.openim.hooks).filter(
    ([key, hook]) => hook.enable && openImHookKey(key)?.kind === "after",
  );
  if (enabled.length === 0) return undefined;
  return validateEndpoint({
    id: OPENIM_WEBHOOKS_ENDPOINT_ID,
    url: app.openim.url,
    dialect: "openim",
    openim: { urlStyle: app.openim.urlStyle, commandNames: app.openim.commandNames },
    timeoutMs: Math.max(...enabled.map(([, hook]) => hookTimeoutMs(hook))),
  });
}

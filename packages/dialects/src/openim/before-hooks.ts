import { SECOND_MS, type DialectBefore } from "../dialect.js";
import { completeHookPolicy, type HookPolicy } from "../hook-policy.js";
import type { HookProvider } from "../hook-provider.js";
import { interpretOpenImBefore, renderOpenImBefore, type UrlStyle } from "./before.js";
import { openImHookFires, type TypeFilter } from "./filter.js";
import { findOpenImHook, openImCommand, type CommandNaming, type OpenImHook } from "./hooks.js";

/** One hook's settings in an app's `openim.hooks` (webhooks.yml's fields; timeout in seconds, as OpenIM writes it). */
export interface OpenImHookSettings extends TypeFilter, Partial<Omit<HookPolicy, "failedAction">> {
  enable: boolean;
  timeout: number;
  /** OpenIM's spelling of failedAction, which has no drop here: true continues, false denies. */
  failedContinue: boolean;
}

/** An app's `openim` block as config reads it (from webhooks.yml or the admin API). */
export interface OpenImAppBlock {
  url: string;
  urlStyle: UrlStyle;
  commandNames: CommandNaming;
  hooks: Record<string, OpenImHookSettings>;
  /** Asks the synchronous hooks over gRPC instead of at url (which after-hooks still use). */
  provider?: HookProvider;
}

/** A hook's timeout in Herald's unit: webhooks.yml writes seconds. The one conversion. */
export function openImHookTimeoutMs(settings: { timeout: number }): number {
  return Math.round(settings.timeout * SECOND_MS);
}

/** OpenIM's before-hooks: the 53 hooks of webhooks.yml, each under its key in the app's `openim.hooks`. */
export const openImBefore: DialectBefore<"openim", OpenImAppBlock, OpenImHook> = {
  appKey: "openim",
  canDrop: false,
  findHook: findOpenImHook,
  hookSettings: (block, hook) => {
    const settings = block.hooks[hook.key];
    return (
      settings && {
        enable: settings.enable,
        timeoutMs: openImHookTimeoutMs(settings),
        policy: completeHookPolicy(settings),
      }
    );
  },
  filteredOut: (block, hook, payload) => {
    const settings = block.hooks[hook.key];
    if (settings === undefined) return undefined;
    const firing = openImHookFires(hook, settings, payload);
    return firing.fires ? undefined : firing.why;
  },
  providerOf: (block) => block.provider,
  render: (block, hook, { operationId, payload }) =>
    renderOpenImBefore({
      baseUrl: block.url,
      urlStyle: block.urlStyle,
      command: openImCommand(hook, block.commandNames),
      operationId,
      payload,
    }),
  interpret: interpretOpenImBefore,
  // The passthrough renders through renderOpenImBefore too, to the app's URL in its style.
  asyncCommand: (block, hook) => openImCommand(hook, block.commandNames),
};

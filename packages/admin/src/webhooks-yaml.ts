import { stringify } from "yaml";
import { openImHookKey, type AppConfig, type HookConfig } from "@herald/config";
import { DEFAULT_HOOK_POLICY, HOOK_POLICY_KEYS } from "@herald/dialects";

/** An inclusive range as OpenIM writes it: 101, or "200-500" (v3.8.3's form). */
function openImRange([low, high]: [number, number]): number | string {
  return low === high ? low : `${low}-${high}`;
}

function openImHook(key: string, hook: HookConfig): Record<string, unknown> {
  const kind = openImHookKey(key)?.kind ?? "before";
  return {
    enable: hook.enable,
    timeout: hook.timeout,
    ...(kind === "before" ? { failedContinue: hook.failedContinue } : {}),
    deniedTypes: hook.deniedTypes.map(openImRange),
    allowedTypes: hook.allowedTypes.map(openImRange),
    attentionIds: hook.attentionIds,
    ...(kind === "before" ? changedPolicy(hook) : {}),
  };
}

// Herald's policy fields, only where they differ from the defaults: OpenIM would warn of each unknown key.
function changedPolicy(hook: HookConfig): Record<string, unknown> {
  const changed: Record<string, unknown> = {};
  for (const key of HOOK_POLICY_KEYS) {
    const value = (hook as unknown as Record<string, unknown>)[key];
    if (value !== undefined && value !== (DEFAULT_HOOK_POLICY as unknown as Record<string, unknown>)[key]) {
      changed[key] = value;
    }
  }
  return changed;
}

/**
 * The app's hook settings as OpenIM's webhooks.yml: `url` and the hook keys in OpenIM's spelling, so the
 * file can be handed back to an OpenIM deployment (or imported again) as it is.
 */
export function toOpenImWebhooksYaml(openim: NonNullable<AppConfig["openim"]>): string {
  const doc: Record<string, unknown> = { url: openim.url };
  for (const [key, hook] of Object.entries(openim.hooks)) doc[key] = openImHook(key, hook);
  return stringify(doc);
}

import { OPENIM_HOOKS, openImHookByKey } from "@herald/dialects";
import type { HookKind, OpenImHook } from "@herald/dialects";

export type { HookKind };

/** A webhooks.yml key: OpenIM's one hook table, kept in @herald/dialects. */
export type OpenImHookKey = OpenImHook;

/** The 53 hook keys of OpenIM's webhooks.yml (main), in the file's order. */
export const OPENIM_HOOK_KEYS: readonly OpenImHookKey[] = OPENIM_HOOKS;

/** The hook key's entry, or undefined for a key OpenIM's webhooks.yml does not have. */
export const openImHookKey = openImHookByKey;

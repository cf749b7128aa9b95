import type { JsonObject } from "../types.js";
import type { OpenImHook } from "./hooks.js";

export interface TypeFilter {
  /** Inclusive [from, to] contentType ranges that never fire. */
  deniedTypes: ReadonlyArray<readonly [number, number]>;
  /** Inclusive ranges; when non-empty, only these contentTypes fire. */
  allowedTypes: ReadonlyArray<readonly [number, number]>;
  /** When non-empty, only payloads naming one of these IDs fire. */
  attentionIds: readonly string[];
}

export type HookFiring = { fires: true } | { fires: false; why: string };

// Herald matches attentionIds against every ID a payload carries (OpenIM main checks recvID only, #3410).
const ATTENTION_KEYS = ["sendID", "recvID", "groupID", "userID"] as const;

/** Does the hook fire for this payload? Decided before any hop. */
export function openImHookFires(hook: OpenImHook, filter: TypeFilter, payload: JsonObject): HookFiring {
  const contentType = payload.contentType;
  if (hook.messageHook && typeof contentType === "number") {
    const denied = filter.deniedTypes.find((range) => inRange(contentType, range));
    if (denied !== undefined) {
      return { fires: false, why: `contentType ${contentType} is in deniedTypes ${formatRange(denied)}` };
    }
    if (filter.allowedTypes.length > 0 && !filter.allowedTypes.some((range) => inRange(contentType, range))) {
      return { fires: false, why: `contentType ${contentType} is in no allowedTypes range` };
    }
  }
  if (filter.attentionIds.length > 0) {
    const ids = ATTENTION_KEYS.map((key) => payload[key]).filter(
      (id): id is string => typeof id === "string" && id !== "",
    );
    if (ids.length > 0 && !ids.some((id) => filter.attentionIds.includes(id))) {
      return { fires: false, why: `none of ${ids.join(", ")} is in attentionIds` };
    }
  }
  return { fires: true };
}

function inRange(value: number, [from, to]: readonly [number, number]): boolean {
  return value >= from && value <= to;
}

function formatRange([from, to]: readonly [number, number]): string {
  return from === to ? `${from}` : `${from}-${to}`;
}

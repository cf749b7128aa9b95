import {
  DEFAULT_HOOK_POLICY,
  HOOK_POLICY_KEYS,
  failedActionConflict,
  hookPolicyFields,
  openImHookTimeoutMs,
  type HookPolicy,
} from "@herald/dialects";
import { z } from "zod";
import { openImHookKey } from "./openim-hooks.js";
import { child, describe, expectRecord, fail, parseAt, unknownKeySite, warn } from "./site.js";
import type { Site } from "./site.js";

/**
 * One hook's settings, complete: every field filled with OpenIM's defaults. A before-hook's policy
 * (retries, per-failure choices, async) is Herald's addition; its failedAction is failedContinue, as
 * OpenIM has no silent drop.
 */
export interface HookConfig extends Omit<HookPolicy, "failedAction"> {
  enable: boolean;
  /**
   * Seconds, 0 < timeout <= 60: webhooks.yml's unit, kept so the stored form and the admin API read
   * as OpenIM's file does. Code reads hookTimeoutMs(), the one conversion.
   */
  timeout: number;
  /** Before-hooks only: whether a failed call lets the action go on. */
  failedContinue: boolean;
  /** Inclusive content-type ranges. */
  deniedTypes: Array<[number, number]>;
  allowedTypes: Array<[number, number]>;
  attentionIds: string[];
}

export const DEFAULT_TIMEOUT_SECONDS = 5;
export const MAX_TIMEOUT_SECONDS = 60;
// OpenIM's HTTP client caps every call at 15 s, so its `timeout: 0` (no per-hook timeout) means 15 s.
const OPENIM_CLIENT_CAP_SECONDS = 15;
const MAX_CONTENT_TYPE = 2 ** 31 - 1;

const BEFORE_FIELDS = [
  "enable",
  "timeout",
  "failedContinue",
  "deniedTypes",
  "allowedTypes",
  "attentionIds",
  ...HOOK_POLICY_KEYS,
];
// An async hook's call is a delivery: the endpoint's retry schedule applies, and the action goes on.
const SYNC_POLICY_KEYS = HOOK_POLICY_KEYS.filter((key) => key !== "async");
const AFTER_FIELDS = ["enable", "timeout", "attentionIds", "deniedTypes", "allowedTypes"];

/** A hook's timeout in Herald's unit, milliseconds (the dialect's one conversion). */
export const hookTimeoutMs: (hook: Pick<HookConfig, "timeout">) => number = openImHookTimeoutMs;

/** The defaults of OpenIM's shipped webhooks.yml for `hookKey` (enable false). */
export function defaultHookConfig(hookKey: string): HookConfig {
  const { failedAction: _, ...policy } = DEFAULT_HOOK_POLICY;
  return {
    ...policy,
    enable: false,
    timeout: DEFAULT_TIMEOUT_SECONDS,
    failedContinue: openImHookKey(hookKey)?.failedContinue ?? true,
    deniedTypes: [],
    allowedTypes: [],
    attentionIds: [],
  };
}

const RANGE_TEXT = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/;

/** 101, "101", "200-500" (v3.8.3) or [200, 500] (Herald's stored form) as an inclusive range. */
function toTypeRange(value: unknown, noun = "content type"): [number, number] | string {
  let low: number | undefined;
  let high: number | undefined;
  if (typeof value === "number") {
    low = high = value;
  } else if (typeof value === "string") {
    const match = RANGE_TEXT.exec(value);
    if (match?.[1] !== undefined) {
      low = Number(match[1]);
      high = match[2] === undefined ? low : Number(match[2]);
    }
  } else if (Array.isArray(value) && value.length === 2 && value.every((n) => typeof n === "number")) {
    [low, high] = value as [number, number];
  }
  if (low === undefined || high === undefined) {
    return `expected a ${noun} (101), a range ("200-500") or a pair [200, 500], got ${describe(value)}`;
  }
  if (![low, high].every((n) => Number.isInteger(n) && n >= 0 && n <= MAX_CONTENT_TYPE)) {
    return `content types are integers from 0 to ${MAX_CONTENT_TYPE}`;
  }
  if (low > high) return `range ${low}-${high} ends before it starts`;
  return [low, high];
}

/** Content-type ranges in any of OpenIM's forms, as inclusive pairs. */
export const typeRangesSchema = z.array(
  z.unknown().transform((value, ctx): [number, number] => {
    const range = toTypeRange(value);
    if (typeof range === "string") {
      ctx.issues.push({ code: "custom", message: range, input: value });
      return z.NEVER;
    }
    return range;
  }),
  { error: "expected a list of content types" },
);

/** Inclusive ranges of HTTP statuses, written as content type ranges are: `[404, [400, 407]]` or "400-407". */
export const statusRangesSchema = z.array(
  z.unknown().transform((value, ctx): [number, number] => {
    const range = toTypeRange(value, "HTTP status");
    if (typeof range === "string" || range[0] < 100 || range[1] > 599) {
      ctx.issues.push({
        code: "custom",
        message: typeof range === "string" ? range : "expected HTTP statuses, 100 to 599",
        input: value,
      });
      return z.NEVER;
    }
    return range;
  }),
  { error: "expected a list of HTTP statuses or ranges" },
);

// Go's YAML decoder reads a number into a string field, so accept ids written as numbers.
export const attentionIdsSchema = z.array(
  z.union([z.string(), z.number()], { error: "expected a user id" }).transform(String),
  { error: "expected a list of user ids" },
);

// null stands for an empty YAML value (`deniedTypes:`), which OpenIM reads as the zero value.
const hookFieldsSchema = z.object({
  enable: z.boolean({ error: "expected true or false" }).nullish(),
  timeout: z
    .number({ error: "expected a number of seconds" })
    .min(0, { error: `expected seconds, 0 < timeout <= ${MAX_TIMEOUT_SECONDS}` })
    .max(MAX_TIMEOUT_SECONDS, { error: `expected seconds, 0 < timeout <= ${MAX_TIMEOUT_SECONDS}` })
    .nullish(),
  failedContinue: z.boolean({ error: "expected true or false" }).nullish(),
  deniedTypes: typeRangesSchema.nullish(),
  allowedTypes: typeRangesSchema.nullish(),
  attentionIds: attentionIdsSchema.nullish(),
  ...hookPolicyFields(false),
});

/**
 * Reads one hook entry of a webhooks.yml (or of a stored app) into a complete HookConfig.
 * `strict` (stored values) refuses unknown fields; otherwise they are warnings.
 */
export function readHookConfig(site: Site, hookKey: string, raw: unknown, strict = false): HookConfig {
  const defaults = defaultHookConfig(hookKey);
  if (raw === null || raw === undefined) return defaults;
  const record = expectRecord(site, raw);
  const kind = openImHookKey(hookKey)?.kind ?? "before";
  const known = kind === "before" ? BEFORE_FIELDS : AFTER_FIELDS;
  for (const key of Object.keys(record)) {
    if (known.includes(key)) continue;
    if (key === "failedContinue" || (kind === "after" && HOOK_POLICY_KEYS.includes(key))) {
      if (!strict) warn(child(site, key), `${key} has no effect on an after-hook`);
    } else if (strict) {
      fail(unknownKeySite(site, key), "unknown key");
    } else {
      warn(unknownKeySite(site, key), "unknown key");
    }
  }
  const fields = parseAt(site, hookFieldsSchema, record);
  if (kind === "before" && fields.async === true && !strict) {
    for (const key of SYNC_POLICY_KEYS.filter((k) => record[k] != null)) {
      warn(child(site, key), `${key} has no effect on an async hook: the implied endpoint retries its call`);
    }
  }
  let timeout = fields.timeout ?? defaults.timeout;
  if (timeout === 0) {
    warn(child(site, "timeout"), `0 means no per-hook timeout in OpenIM, which caps calls at 15 s: using 15`);
    timeout = OPENIM_CLIENT_CAP_SECONDS;
  }
  const conflict = failedActionConflict(fields);
  if (kind === "before" && conflict !== undefined) fail(child(site, "failedAction"), conflict);
  const before = kind === "before";
  const failedContinue =
    (before && fields.failedAction != null ? fields.failedAction === "continue" : undefined) ??
    (before ? fields.failedContinue : undefined) ??
    defaults.failedContinue;
  const policyField = <K extends keyof typeof defaults>(
    key: K,
    value: (typeof defaults)[K] | null | undefined,
  ) => (before ? (value ?? defaults[key]) : defaults[key]);
  return {
    enable: fields.enable ?? defaults.enable,
    timeout,
    failedContinue,
    maxRetries: policyField("maxRetries", fields.maxRetries),
    retryBackoffMs: policyField("retryBackoffMs", fields.retryBackoffMs),
    on4xx: policyField("on4xx", fields.on4xx),
    on429: policyField("on429", fields.on429),
    on5xx: policyField("on5xx", fields.on5xx),
    async: policyField("async", fields.async),
    deniedTypes: fields.deniedTypes ?? defaults.deniedTypes,
    allowedTypes: fields.allowedTypes ?? defaults.allowedTypes,
    attentionIds: fields.attentionIds ?? defaults.attentionIds,
  };
}

import { z } from "zod";

/**
 * What a before-hook does when its call fails, Ably's "before-publish rule" policy in Herald's terms.
 * The hook's timeout is the whole budget: the first call and every retry fit inside it.
 */
export interface HookPolicy {
  /** Calls after the first, inside the timeout (0: one call, as OpenIM makes). */
  readonly maxRetries: number;
  /** The wait before the first retry; each later wait doubles, never past what is left of the budget. */
  readonly retryBackoffMs: number;
  /** A 4xx other than 429: "fail" applies failedAction at once (Ably's rule); "retry" calls again. */
  readonly on4xx: RetryChoice;
  /** A 429: "retry" waits Retry-After (or the backoff) when it fits in the budget; "fail" does not. */
  readonly on429: RetryChoice;
  /** A 5xx, a refused or broken connection: "retry" within the budget, or "fail" at once. */
  readonly on5xx: RetryChoice;
  /** The decision when the call has failed for good: the action goes on, is denied, or silently dropped. */
  readonly failedAction: FailedAction;
  /**
   * Answer continue at once and make the call durably in the background (retried and logged as a
   * delivery), for business servers that only want to see, not to decide.
   */
  readonly async: boolean;
}

export type RetryChoice = "retry" | "fail";
export type FailedAction = "continue" | "deny" | "drop";
export const FAILED_ACTIONS: readonly FailedAction[] = Object.freeze(["continue", "deny", "drop"]);

export const DEFAULT_HOOK_POLICY: HookPolicy = Object.freeze({
  maxRetries: 0,
  retryBackoffMs: 50,
  on4xx: "fail",
  on429: "retry",
  on5xx: "retry",
  failedAction: "continue",
  async: false,
});

/** The most retries a hook may ask for: the budget is at most a minute, and each retry is a real call. */
export const MAX_HOOK_RETRIES = 10;

const retryChoice = z.enum(["retry", "fail"], { error: 'expected "retry" or "fail"' });

/**
 * The policy's fields as a hook's settings spell them, each optional (null is YAML's empty value):
 * webhooks.yml's hooks and Tencent's hooks take the same ones. `failedAction` may say "drop" only where
 * the dialect has a silent drop; `failedContinue` (OpenIM's spelling) stays and means continue or deny.
 * `asyncRefusal`, for a dialect whose calls cannot be made as deliveries, refuses `async: true` saying why.
 */
export function hookPolicyFields(canDrop: boolean, asyncRefusal?: string) {
  const actions = canDrop ? FAILED_ACTIONS : FAILED_ACTIONS.filter((a) => a !== "drop");
  const actionText = actions.map((a) => `"${a}"`).join(", ");
  return {
    maxRetries: z
      .int({ error: `expected a whole number of retries, 0 to ${MAX_HOOK_RETRIES}` })
      .min(0, { error: `expected a whole number of retries, 0 to ${MAX_HOOK_RETRIES}` })
      .max(MAX_HOOK_RETRIES, { error: `expected a whole number of retries, 0 to ${MAX_HOOK_RETRIES}` })
      .nullish(),
    retryBackoffMs: z
      .int({ error: "expected milliseconds, 1 to 10000" })
      .min(1, { error: "expected milliseconds, 1 to 10000" })
      .max(10_000, { error: "expected milliseconds, 1 to 10000" })
      .nullish(),
    on4xx: retryChoice.nullish(),
    on429: retryChoice.nullish(),
    on5xx: retryChoice.nullish(),
    failedAction: z
      .string({ error: `expected one of ${actionText}` })
      .refine((a): a is FailedAction => (actions as readonly string[]).includes(a), {
        error: canDrop
          ? `expected one of ${actionText}`
          : `expected one of ${actionText} (this dialect has no silent drop)`,
      })
      .nullish(),
    async: z
      .boolean({ error: "expected true or false" })
      .refine((async) => !async || asyncRefusal === undefined, { error: asyncRefusal })
      .nullish(),
  };
}

/** The names of the policy's fields, as a hook's settings spell them. */
export const HOOK_POLICY_KEYS: readonly string[] = Object.freeze(Object.keys(hookPolicyFields(true)));

export type HookPolicyInput = {
  [K in keyof ReturnType<typeof hookPolicyFields>]?: z.output<ReturnType<typeof hookPolicyFields>[K]>;
} & { failedContinue?: boolean | null };

/**
 * The complete policy of a hook's fields: unset fields take the defaults; failedAction, when set, wins
 * over failedContinue, and a failedContinue that disagrees with it is refused by the caller's schema.
 */
export function completeHookPolicy(fields: HookPolicyInput, failedContinueDefault = true): HookPolicy {
  const failedContinue = fields.failedContinue ?? failedContinueDefault;
  return {
    maxRetries: fields.maxRetries ?? DEFAULT_HOOK_POLICY.maxRetries,
    retryBackoffMs: fields.retryBackoffMs ?? DEFAULT_HOOK_POLICY.retryBackoffMs,
    on4xx: fields.on4xx ?? DEFAULT_HOOK_POLICY.on4xx,
    on429: fields.on429 ?? DEFAULT_HOOK_POLICY.on429,
    on5xx: fields.on5xx ?? DEFAULT_HOOK_POLICY.on5xx,
    failedAction: fields.failedAction ?? (failedContinue ? "continue" : "deny"),
    async: fields.async ?? DEFAULT_HOOK_POLICY.async,
  };
}

/** Why failedContinue and failedAction disagree, or undefined when they do not. */
export function failedActionConflict(fields: HookPolicyInput): string | undefined {
  const { failedContinue, failedAction } = fields;
  if (failedContinue === undefined || failedContinue === null) return undefined;
  if (failedAction === undefined || failedAction === null) return undefined;
  if (failedContinue === (failedAction === "continue")) return undefined;
  return `failedContinue: ${failedContinue} disagrees with failedAction: ${failedAction}; set one of them`;
}

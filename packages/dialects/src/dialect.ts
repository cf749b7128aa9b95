import type { Event } from "@herald/proto";
import type { z } from "zod";
import type { CallbackFailure } from "./openim/failure.js";
import type { HookPolicy } from "./hook-policy.js";
import type { HookProvider } from "./hook-provider.js";
import type { HttpRequestSpec, JsonObject } from "./types.js";

/** Herald's one unit of time inside: milliseconds. Seconds appear only at the edges (a YAML, a wire field). */
export const SECOND_MS = 1_000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** How an endpoint's callbacks are ordered: per key (user, room, conversation), or not at all. */
export type Ordering = "key" | "none";
export const ORDERINGS: readonly Ordering[] = Object.freeze(["key", "none"]);

/** An inclusive range of HTTP statuses, `[400, 407]`; `[410, 410]` is one status. */
export type StatusRange = readonly [number, number];

/** When an endpoint is disabled rather than retried (its jobs dead, with the reason on the endpoint). */
export interface DisableRules {
  /** Refused by the SSRF guard, or unreachable (connection refused, no such host, TLS failure). */
  readonly unreachable: boolean;
  /** Any of these answers disables at once. */
  readonly statuses: readonly StatusRange[];
  /** This many timeouts in a row (no answer within timeoutMs) disable; 0 = never. */
  readonly timeoutsInARow: number;
}

/** What an endpoint of the dialect gets for each setting its config leaves out. */
export interface DialectDefaults {
  /** Event type patterns sent when the endpoint names none. */
  readonly eventTypes: readonly string[];
  readonly timeoutMs: number;
  /** `scheduleMs`: delays before attempt 2, 3, ...; `jitter`: 0..1, a ± fraction of each delay. */
  readonly retry: { readonly scheduleMs: readonly number[]; readonly jitter: number };
  readonly concurrency: number;
  readonly ordering: Ordering;
  readonly batch: { readonly maxRecords: number; readonly maxLingerMs: number };
  readonly pauseOnTimeouts: { readonly count: number; readonly windowMs: number; readonly pauseMs: number };
  readonly disableOn: DisableRules;
  /** Disable after failing this long without any success; 0 = never. */
  readonly disableAfterFailingMs: number;
}

/**
 * The dialect's own block of an endpoint's config (`rongcloud: {appKey, appSecret}`), under `key`.
 * `complete` fills it from what the endpoint gave (undefined: left out) and the app's settings.
 */
export interface DialectSettings<K extends string, S> {
  readonly key: K;
  /** The block as a config may write it (every field checked, unknown keys refused). */
  readonly schema: z.ZodType<unknown>;
  /** Said when the block is left out but the dialect cannot go without it; absent: optional. */
  readonly required?: string;
  /** Fields of the block the admin API shows redacted ("…abcd"), as it does Standard Webhooks secrets. */
  readonly secretFields: readonly string[];
  readonly complete: (given: unknown, app: AppSettings) => S;
}

/** What an endpoint inherits from its app (OpenIM's URL style, from the app's webhooks.yml). */
export interface AppSettings {
  readonly openim?: { readonly urlStyle: "path" | "query"; readonly commandNames: "seed" | "current" };
}

/** One event to send and the id its receiver deduplicates on (the same on every attempt). */
export interface RenderItem {
  readonly event: Event;
  readonly deliveryId: string;
}

export interface RenderInput<S> {
  readonly url: string;
  /** The dialect's settings block, completed. */
  readonly settings: S;
  /** Standard Webhooks secrets that sign now, newest first. */
  readonly secrets: readonly string[];
  /** One item, or up to batch.maxRecords for a dialect that sends arrays. */
  readonly items: readonly RenderItem[];
  /** The attempt's clock (a retry is rendered and signed afresh). */
  readonly now: Date;
}

/** A business server's answer to a delivered callback. */
export interface CallbackResponse {
  readonly status: number;
  readonly body: string;
}

/** Thrown by a render for an event the dialect has nothing to say for: the delivery is dead, not retried. */
export class CannotSayError extends Error {
  override readonly name = "CannotSayError";
}

/** What a before-hook's answer means for the chat core's action. */
export type BeforeOutcome =
  /** Go on unchanged. */
  | { kind: "continue" }
  /** Go on with this payload: the request payload with the response's modifications, in the request's key names. */
  | { kind: "modify"; payload: JsonObject }
  | { kind: "deny"; errCode: number; errMsg: string; errDlt: string }
  /** Stop without an error: the sender is told it succeeded (Tencent's ErrorCode 2). */
  | { kind: "drop" }
  /** A failed callback: the hook's policy decides (see decideFailure). */
  | { kind: "failed"; failure: CallbackFailure };

/** One hook of a dialect, as a Before call's `command` names it. */
export interface BeforeHook {
  /** Where its settings live in the app's block (OpenIM: the webhooks.yml key; Tencent: the command). */
  readonly key: string;
  /** Only before-hooks are asked through Before; an after-hook is published as an event. */
  readonly kind: "before" | "after";
  /** A NATS subject token that names it (no dots): the gateway asks the evaluators on it. */
  readonly subjectToken: string;
}

/** A before-hook's settings as the gateway and evaluator use them, complete. */
export interface BeforeHookSettings {
  readonly enable: boolean;
  /** The whole budget of one Before: the first call and every retry. */
  readonly timeoutMs: number;
  /** Retries, per-failure choices, the decision when the call fails for good, and async. */
  readonly policy: HookPolicy;
}

/**
 * A dialect's before-hooks (synchronous: the business server may allow, deny, drop or modify), configured
 * per app in the block under `appKey`. The gateway and evaluator find the dialect whose `findHook` knows
 * a Before call's command and go through these; neither names a dialect.
 */
export interface DialectBefore<BK extends string = string, B = unknown, H extends BeforeHook = BeforeHook> {
  /** Whether the dialect has a silent drop (Tencent's ErrorCode 2): only then may failedAction say "drop". */
  readonly canDrop: boolean;
  /** The app's config block for these hooks: `openim`, `tencent`. */
  readonly appKey: BK;
  /**
   * The block's stored form (unknown keys refused, defaults filled), the same in a YAML file and the
   * admin API; absent where config reads the block itself (OpenIM's webhooks.yml).
   */
  readonly appSchema?: z.ZodType<B>;
  /** The hook a command names, by any spelling the dialect accepts; undefined when it has none by that name. */
  readonly findHook: (command: string) => H | undefined;
  /** The hook's settings in the app's block; undefined when the block does not configure it (then it is off). */
  readonly hookSettings: (block: B, hook: H) => BeforeHookSettings | undefined;
  /** Why the hook does not fire for this payload (OpenIM's type and user filters); undefined: it fires. */
  readonly filteredOut?: (block: B, hook: H, payload: JsonObject) => string | undefined;
  /**
   * The block's gRPC hook provider (its `provider`, hookProviderSchema): when set, the synchronous hooks
   * are asked there, with render's body, instead of at the url; undefined: over HTTP.
   */
  readonly providerOf: (block: B) => HookProvider | undefined;
  /** The request to the business server; `now` signs it. */
  readonly render: (
    block: B,
    hook: H,
    input: { readonly operationId: string; readonly payload: JsonObject; readonly now: Date },
  ) => HttpRequestSpec;
  /** The business server's answer; `request` is the payload asked about (a modification is applied to it). */
  readonly interpret: (hook: H, request: JsonObject, response: CallbackResponse) => BeforeOutcome;
  /**
   * For an async hook: the command of the passthrough event (type `openim.<command>`, the chat core's
   * payload) that the app's implied endpoint delivers as `render` would make the call (same URL, body and
   * operationID), retried and logged like any delivery. Absent: the dialect's hooks cannot be async, and
   * config refuses `async: true` for them.
   */
  readonly asyncCommand?: (block: B, hook: H) => string;
}

/**
 * Everything Herald knows about one wire dialect: how endpoints of it are configured and defaulted,
 * which events it can say and how, how its answers are read, and how it signs. Config, the deliverer,
 * the admin API and the panel read these; none of them names a dialect.
 */
export interface DialectDefinition<
  N extends string = string,
  K extends string = string,
  S = unknown,
  BK extends string = string,
  B = unknown,
> {
  readonly name: N;
  /** For people: the table in the README, the panel's select. */
  readonly title: string;
  /** One line: what it sends. */
  readonly summary: string;
  /** One line: how a receiver knows a request is Herald's ("unsigned" if it cannot). */
  readonly signing: string;
  /** Its own settings block, if it has one. */
  readonly settings?: DialectSettings<K, S>;
  /** Whether endpoints sign with Standard Webhooks `whsec_` secrets (required then, refused otherwise). */
  readonly signsWithSecrets: boolean;
  readonly defaults: DialectDefaults;
  /** The most records one request may carry (1 unless the wire format is an array). */
  readonly maxBatchRecords: number;
  /** Event type patterns it can say; an endpoint is sent nothing else, whatever its eventTypes. */
  readonly renders: readonly string[];
  /**
   * Whether it says `event` to an endpoint that takes the event types `takes` accepts; absent: every
   * event of a type it renders. Asked when routing (so nothing unsaid is queued) and again at send time.
   */
  readonly says?: (event: Event, takes: (type: string) => boolean) => boolean;
  /** The request for `items`; CannotSayError for an event it cannot say. Delivery id headers are added by the caller. */
  readonly render: (input: RenderInput<S>) => HttpRequestSpec;
  /** For a 2xx answer: why it still says failure (a Tencent ErrorCode), or undefined when it was taken. */
  readonly refusal?: (response: CallbackResponse) => string | undefined;
  /** The least body that creates an endpoint of this dialect (the panel's template); secrets left empty. */
  readonly template: Readonly<Record<string, unknown>>;
  /** Its before-hooks, if the business server can gate actions through it. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each dialect's own hook type
  readonly before?: DialectBefore<BK, B, any>;
}

/** Typed identity: keeps the literal name and settings key for the registry's types. */
export function defineDialect<
  const N extends string,
  const K extends string = never,
  S = undefined,
  const BK extends string = never,
  B = undefined,
>(definition: DialectDefinition<N, K, S, BK, B>): DialectDefinition<N, K, S, BK, B> {
  return definition;
}

// Defaults most dialects share.
export const COMMON_DEFAULTS = Object.freeze({
  timeoutMs: 5 * SECOND_MS,
  concurrency: 16,
  pauseOnTimeouts: Object.freeze({ count: 20, windowMs: 10 * SECOND_MS, pauseMs: MINUTE_MS }),
  oneRecord: Object.freeze({ maxRecords: 1, maxLingerMs: 0 }),
  neverDisable: Object.freeze({ unreachable: false, statuses: [], timeoutsInARow: 0 }),
});

/** Whether `status` lies in one of `ranges`. */
export function statusIn(ranges: readonly StatusRange[], status: number): boolean {
  return ranges.some(([low, high]) => status >= low && status <= high);
}

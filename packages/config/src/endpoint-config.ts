import {
  DIALECTS,
  DIALECT_DEFINITIONS,
  DIALECT_SETTINGS_KEYS,
  DAY_MS,
  MINUTE_MS,
  ORDERINGS,
  decodeWebhookSecret,
  mapping,
  nonEmptyText,
  dialectOf,
} from "@herald/dialects";
import type { Dialect, DialectSettingsBlocks, Ordering } from "@herald/dialects";
import { OPERATIONAL_EVENT_TYPES, isInternalEventType, isOperationalEventType } from "@herald/proto";
import { z } from "zod";
import { attentionIdsSchema, statusRangesSchema, typeRangesSchema } from "./hook-config.js";
import { httpUrlSchema } from "./openim-webhooks.js";
import { ID_PATTERN, ID_PATTERN_TEXT, intIn, isoTimeSchema, typeError } from "./schemas.js";
import type { OpenImUrlStyle } from "./schemas.js";
import { child, fail, parseAt, rootSite } from "./site.js";
import type { Site } from "./site.js";

export type { Dialect, Ordering } from "@herald/dialects";
export { DIALECTS, ORDERINGS } from "@herald/dialects";

export interface EndpointSecret {
  value: string;
  /** ISO 8601; after it this secret no longer signs (rotation overlap). */
  expiresAt?: string;
}

/**
 * One business server URL that the deliverer sends an app's events to, every field filled: the
 * fields every endpoint has, and its dialect's own block (`rongcloud`, `openim`, …: DIALECT_REGISTRY).
 */
export type EndpointConfig = CommonEndpointConfig & DialectSettingsBlocks;

export interface CommonEndpointConfig {
  id: string;
  url: string;
  dialect: Dialect;
  /** Event type patterns: exact ("msg.sent"), prefix ("user.*", "openim.*") or "*". */
  eventTypes: string[];
  /** OpenIM-style filters on message events: inclusive contentType ranges and user ids. */
  filter: {
    deniedTypes: Array<[number, number]>;
    allowedTypes: Array<[number, number]>;
    attentionIds: string[];
  };
  /** Standard Webhooks `whsec_` secrets: at least one where the dialect signs with them, none elsewhere. */
  secrets: EndpointSecret[];
  timeoutMs: number;
  /** `scheduleMs`: delays before attempt 2, 3, ...; `jitter`: 0..1, a ± fraction of each delay. */
  retry: { scheduleMs: number[]; jitter: number };
  /** HTTP requests in flight to this endpoint, per deliverer. */
  concurrency: number;
  /**
   * `key`: a key's next callback (a user's, a room's, a conversation's) starts only once the one
   * before it is delivered or dead; different keys go on in parallel. `none`: no order at all.
   */
  ordering: Ordering;
  /** Records per request; more than 1 only for a dialect whose wire format is an array. */
  batch: { maxRecords: number; maxLingerMs: number };
  /** `count` timeouts within `windowMs` pause the endpoint for `pauseMs`, then a probe. */
  pauseOnTimeouts: { count: number; windowMs: number; pauseMs: number };
  /** Answers that disable the endpoint at once rather than being retried. */
  disableOn: { unreachable: boolean; statuses: Array<[number, number]>; timeoutsInARow: number };
  /** Disable after failing this long without any success; 0 = never. */
  disableAfterFailingMs: number;
  /**
   * This many failed attempts in a row (as one deliverer saw them) mark the endpoint failing (an
   * `endpoint.failing` operational event); its next delivered attempt marks it recovered. 0 = never.
   */
  failingAfterAttempts: number;
  /**
   * Receives the app's operational events (`endpoint.*`: another endpoint disabled, paused, enabled,
   * failing, recovered) and nothing else; no endpoint receives them otherwise.
   */
  operational: boolean;
}

/** Svix sends its failing event after 4 failed attempts (OP_WEBHOOKS_SEND_FAILING_EVENT_AFTER). */
export const DEFAULT_FAILING_AFTER_ATTEMPTS = 4;
/** What an operational endpoint receives when its eventTypes are left out. */
export const OPERATIONAL_EVENT_PATTERN = "endpoint.*";

/**
 * Whether `type` is selected by one of `patterns`: "*" selects all, "user.*" every type under "user."
 * (not "user" itself), anything else only itself.
 */
export function eventTypeMatches(patterns: readonly string[], type: string): boolean {
  return patterns.some((pattern) => {
    if (pattern === "*") return true;
    if (pattern.endsWith(".*")) return type.startsWith(pattern.slice(0, -1));
    return pattern === type;
  });
}

const EVENT_TYPE_PATTERN = /^(?:\*|[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*(?:\.\*)?)$/;

export const endpointIdSchema = z
  .string({ error: "expected an endpoint id" })
  .regex(ID_PATTERN, { error: `expected ${ID_PATTERN_TEXT}` });

const dialectSchema = z.enum(DIALECTS as [Dialect, ...Dialect[]], {
  error: `expected one of ${DIALECTS.map((d) => JSON.stringify(d)).join(", ")}`,
});

// Every field but id, url and dialect may be left out: completeEndpoint fills it for the dialect.
export const endpointInputSchema = z.strictObject(
  {
    id: endpointIdSchema,
    url: httpUrlSchema,
    dialect: dialectSchema,
    eventTypes: z
      .array(
        z.string({ error: "expected an event type" }).regex(EVENT_TYPE_PATTERN, {
          error: 'expected an event type ("msg.sent"), a prefix ("user.*") or "*"',
        }),
        { error: "expected a list of event types" },
      )
      .min(1, { error: "expected at least one event type (leave it out for the dialect's defaults)" })
      .optional(),
    filter: z
      .strictObject(
        {
          deniedTypes: typeRangesSchema.optional(),
          allowedTypes: typeRangesSchema.optional(),
          attentionIds: attentionIdsSchema.optional(),
        },
        mapping,
      )
      .optional(),
    secrets: z
      .array(
        z.strictObject(
          { value: nonEmptyText("a whsec_ secret"), expiresAt: isoTimeSchema.optional() },
          typeError("expected a secret: {value, expiresAt}"),
        ),
        { error: "expected a list of secrets" },
      )
      .optional(),
    // Each dialect's own block, from the registry.
    ...Object.fromEntries(
      DIALECT_DEFINITIONS.flatMap((d) =>
        d.settings === undefined ? [] : [[d.settings.key, d.settings.schema.optional()]],
      ),
    ),
    timeoutMs: intIn(1, MINUTE_MS, "milliseconds").optional(),
    retry: z
      .strictObject(
        {
          scheduleMs: z
            .array(intIn(0, 7 * DAY_MS, "milliseconds"), { error: "expected a list of delays" })
            .max(100, { error: "expected at most 100 retries" })
            .optional(),
          jitter: z
            .number({ error: "expected a fraction, 0 to 1" })
            .min(0, { error: "expected a fraction, 0 to 1" })
            .max(1, { error: "expected a fraction, 0 to 1" })
            .optional(),
        },
        mapping,
      )
      .optional(),
    concurrency: intIn(1, 1_024, "requests").optional(),
    ordering: z
      .enum(ORDERINGS as [Ordering, ...Ordering[]], { error: 'expected "key" or "none"' })
      .optional(),
    batch: z
      .strictObject(
        {
          maxRecords: intIn(1, 1_000, "records").optional(),
          maxLingerMs: intIn(0, MINUTE_MS, "milliseconds").optional(),
        },
        mapping,
      )
      .optional(),
    pauseOnTimeouts: z
      .strictObject(
        {
          count: intIn(1, 1_000_000, "timeouts").optional(),
          windowMs: intIn(1, DAY_MS, "milliseconds").optional(),
          pauseMs: intIn(1, DAY_MS, "milliseconds").optional(),
        },
        mapping,
      )
      .optional(),
    disableOn: z
      .strictObject(
        {
          unreachable: z.boolean({ error: "expected true or false" }).optional(),
          statuses: statusRangesSchema.optional(),
          timeoutsInARow: intIn(0, 1_000_000, "timeouts").optional(),
        },
        mapping,
      )
      .optional(),
    disableAfterFailingMs: intIn(0, 365 * DAY_MS, "milliseconds").optional(),
    failingAfterAttempts: intIn(0, 1_000_000, "attempts").optional(),
    operational: z.boolean({ error: "expected true or false" }).optional(),
  },
  mapping,
);

/**
 * Validates one endpoint in its stored form (durations as integers of milliseconds, unknown keys
 * refused) and fills the dialect's defaults. For the admin API; `path` prefixes field names in errors.
 */
export function validateEndpoint(input: unknown, path?: string): EndpointConfig {
  const site = rootSite({ file: "", path: path === undefined || path === "" ? [] : path.split(".") });
  return completeEndpoint(site, input);
}

/**
 * The endpoint at `site`, every field filled: the dialect's defaults, then `appOpenIm` for an openim
 * endpoint that does not set its own style. Refuses what the dialect cannot use.
 */
export function completeEndpoint(site: Site, raw: unknown, appOpenIm?: OpenImUrlStyle): EndpointConfig {
  const input = parseAt(site, endpointInputSchema, raw) as EndpointInput;
  const dialect = dialectOf(input.dialect);
  const { defaults } = dialect;
  const own = dialect.settings;

  for (const key of DIALECT_SETTINGS_KEYS) {
    if (key !== own?.key && input[key] !== undefined) {
      fail(child(site, key), `only for dialect ${ownerOf(key)}, not ${dialect.name}`);
    }
  }
  if (own?.required !== undefined && input[own.key] === undefined) fail(child(site, own.key), own.required);

  const secrets = input.secrets ?? [];
  if (secrets.length > 0 && !dialect.signsWithSecrets) {
    fail(child(site, "secrets"), `only for a dialect signed with whsec_ secrets, not ${dialect.name}`);
  }
  if (dialect.signsWithSecrets && secrets.length === 0) {
    fail(child(site, "secrets"), `required for dialect ${dialect.name}: at least one whsec_ secret`);
  }
  secrets.forEach((secret, i) => {
    try {
      decodeWebhookSecret(secret.value);
    } catch (err) {
      fail(
        child(site, "secrets", i, "value"),
        `not a Standard Webhooks secret: ${(err as Error).message}`,
        err,
      );
    }
  });

  const batch = {
    maxRecords: input.batch?.maxRecords ?? defaults.batch.maxRecords,
    maxLingerMs: input.batch?.maxLingerMs ?? defaults.batch.maxLingerMs,
  };
  if (batch.maxRecords > dialect.maxBatchRecords) {
    fail(
      child(site, "batch", "maxRecords"),
      dialect.maxBatchRecords === 1
        ? `dialect ${dialect.name} sends one record per request; it takes 1`
        : `dialect ${dialect.name} sends at most ${dialect.maxBatchRecords} records per request`,
    );
  }
  const disableOn = input.disableOn;
  const operational = input.operational ?? false;
  if (operational) checkOperational(site, dialect, input.eventTypes);

  // Built key by key in one order, so equal endpoints serialize to equal bytes.
  return {
    id: input.id,
    url: input.url,
    dialect: dialect.name as Dialect,
    eventTypes: input.eventTypes ?? (operational ? [OPERATIONAL_EVENT_PATTERN] : [...defaults.eventTypes]),
    filter: {
      deniedTypes: input.filter?.deniedTypes ?? [],
      allowedTypes: input.filter?.allowedTypes ?? [],
      attentionIds: input.filter?.attentionIds ?? [],
    },
    secrets: secrets.map(({ value, expiresAt }) =>
      expiresAt === undefined ? { value } : { value, expiresAt },
    ),
    ...(own === undefined
      ? {}
      : { [own.key]: own.complete(input[own.key], appOpenIm === undefined ? {} : { openim: appOpenIm }) }),
    timeoutMs: input.timeoutMs ?? defaults.timeoutMs,
    retry: {
      scheduleMs: input.retry?.scheduleMs ?? [...defaults.retry.scheduleMs],
      jitter: input.retry?.jitter ?? defaults.retry.jitter,
    },
    concurrency: input.concurrency ?? defaults.concurrency,
    ordering: input.ordering ?? defaults.ordering,
    batch,
    pauseOnTimeouts: {
      count: input.pauseOnTimeouts?.count ?? defaults.pauseOnTimeouts.count,
      windowMs: input.pauseOnTimeouts?.windowMs ?? defaults.pauseOnTimeouts.windowMs,
      pauseMs: input.pauseOnTimeouts?.pauseMs ?? defaults.pauseOnTimeouts.pauseMs,
    },
    disableOn: {
      unreachable: disableOn?.unreachable ?? defaults.disableOn.unreachable,
      statuses: disableOn?.statuses ?? defaults.disableOn.statuses.map(([low, high]) => [low, high]),
      timeoutsInARow: disableOn?.timeoutsInARow ?? defaults.disableOn.timeoutsInARow,
    },
    disableAfterFailingMs: input.disableAfterFailingMs ?? defaults.disableAfterFailingMs,
    failingAfterAttempts: input.failingAfterAttempts ?? DEFAULT_FAILING_AFTER_ATTEMPTS,
    operational,
  };
}

// An operational endpoint's dialect must say every operational event, and its event types must
// select some: it receives nothing else.
function checkOperational(
  site: Site,
  dialect: { name: string; renders: readonly string[] },
  eventTypes: readonly string[] | undefined,
): void {
  if (!OPERATIONAL_EVENT_TYPES.every((type) => eventTypeMatches(dialect.renders, type))) {
    const able = DIALECT_DEFINITIONS.filter((d) =>
      OPERATIONAL_EVENT_TYPES.every((type) => eventTypeMatches(d.renders, type)),
    ).map((d) => d.name);
    fail(
      child(site, "operational"),
      `dialect ${dialect.name} cannot say operational events (${OPERATIONAL_EVENT_PATTERN}); use ${able.join(" or ")}`,
    );
  }
  eventTypes?.forEach((pattern, i) => {
    if (!OPERATIONAL_EVENT_TYPES.some((type) => eventTypeMatches([pattern], type))) {
      fail(
        child(site, "eventTypes", i),
        `an operational endpoint receives only ${OPERATIONAL_EVENT_TYPES.join(", ")}; ${JSON.stringify(pattern)} selects none of them`,
      );
    }
  });
}

/**
 * Whether an event of `type` may go to `endpoint` at all: operational events to operational endpoints
 * only, and only they; internal events (presence's lease checks) to none.
 */
export function takesEventKind(endpoint: Pick<EndpointConfig, "operational">, type: string): boolean {
  return !isInternalEventType(type) && isOperationalEventType(type) === endpoint.operational;
}

// The parsed input: the common fields typed, the dialects' blocks read by key.
type EndpointInput = Omit<z.output<typeof endpointInputSchema>, keyof DialectSettingsBlocks> &
  Record<string, unknown>;

function ownerOf(settingsKey: string): string {
  return DIALECT_DEFINITIONS.find((d) => d.settings?.key === settingsKey)?.name ?? "?";
}

/**
 * An app's stored endpoints (a list of objects with `id`), ordered by id so that the same set stores the
 * same bytes. Refuses a repeated id, naming the second.
 */
export function readStoredEndpoints(site: Site, raw: unknown, appOpenIm?: OpenImUrlStyle): EndpointConfig[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) fail(site, "expected a list of endpoints");
  const seen = new Map<string, number>();
  const endpoints = raw.map((item: unknown, i) => {
    const endpoint = completeEndpoint(child(site, i), item, appOpenIm);
    const first = seen.get(endpoint.id);
    if (first !== undefined) {
      fail(child(site, i, "id"), `duplicate endpoint id ${JSON.stringify(endpoint.id)} (also item ${first})`);
    }
    seen.set(endpoint.id, i);
    return endpoint;
  });
  return sortById(endpoints);
}

export function sortById(endpoints: EndpointConfig[]): EndpointConfig[] {
  return endpoints.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

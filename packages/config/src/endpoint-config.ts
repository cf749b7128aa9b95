import { decodeWebhookSecret } from "@herald/dialects";
import { z } from "zod";
import { attentionIdsSchema, typeRangesSchema } from "./hook-config.js";
import { httpUrlSchema } from "./openim-webhooks.js";
import {
  ID_PATTERN,
  ID_PATTERN_TEXT,
  commandNamesSchema,
  intIn,
  isoTimeSchema,
  typeError,
  urlStyleSchema,
} from "./schemas.js";
import type { OpenImUrlStyle } from "./schemas.js";
import { child, fail, parseAt, rootSite } from "./site.js";
import type { Site } from "./site.js";

/** The wire formats Herald speaks to business servers (see DESIGN.md). */
export type Dialect = "openim" | "rongcloud" | "mqttchat" | "standard";
export const DIALECTS: readonly Dialect[] = Object.freeze(["openim", "rongcloud", "mqttchat", "standard"]);

/** How an endpoint's callbacks are ordered: per key (user, room, conversation), or not at all. */
export type Ordering = "key" | "none";
export const ORDERINGS: readonly Ordering[] = Object.freeze(["key", "none"]);

export interface EndpointSecret {
  value: string;
  /** ISO 8601; after it this secret no longer signs (rotation overlap). */
  expiresAt?: string;
}

/** One business server URL that the deliverer sends an app's events to, every field filled. */
export interface EndpointConfig {
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
  /** Standard Webhooks `whsec_` secrets; at least one for dialect standard, none for the others. */
  secrets: EndpointSecret[];
  /** Dialect rongcloud only (and required there): signs each request. */
  rongcloud?: { appKey: string; appSecret: string };
  /** Dialect openim only (always set there): defaults to the app's openim style. */
  openim?: OpenImUrlStyle;
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
  /** Only rongcloud sends arrays, so only it batches more than one record. */
  batch: { maxRecords: number; maxLingerMs: number };
  /** `count` timeouts within `windowMs` pause the endpoint for `pauseMs`, then a probe. */
  pauseOnTimeouts: { count: number; windowMs: number; pauseMs: number };
  /** Disable after failing this long without any success; 0 = never. */
  disableAfterFailingMs: number;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const DEFAULT_EVENT_TYPES: Readonly<Record<Dialect, readonly string[]>> = Object.freeze({
  openim: Object.freeze(["user.online", "user.offline", "msg.sent", "openim.*"]),
  mqttchat: Object.freeze(["user.online", "user.offline", "node.reset", "msg.sent"]),
  rongcloud: Object.freeze(["user.online", "user.offline", "room.status"]),
  standard: Object.freeze([
    "user.online",
    "user.offline",
    "user.background",
    "msg.sent",
    "room.status",
    "node.reset",
    "openim.*",
  ]),
});

export const DEFAULT_RETRY_SCHEDULES_MS: Readonly<Record<Dialect, readonly number[]>> = Object.freeze({
  openim: Object.freeze([
    SECOND,
    5 * SECOND,
    30 * SECOND,
    2 * MINUTE,
    10 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    6 * HOUR,
  ]),
  mqttchat: Object.freeze([5 * SECOND, 30 * SECOND, 2 * MINUTE, 10 * MINUTE, 30 * MINUTE]),
  // RongCloud's documentation: "retries twice".
  rongcloud: Object.freeze([SECOND, 5 * SECOND]),
  // The example schedule of the Standard Webhooks spec.
  standard: Object.freeze([
    5 * SECOND,
    5 * MINUTE,
    30 * MINUTE,
    2 * HOUR,
    5 * HOUR,
    10 * HOUR,
    14 * HOUR,
    20 * HOUR,
    24 * HOUR,
  ]),
});

/**
 * Where a business server keeps state from the callbacks (MQTT-chat and OpenIM presence, RongCloud
 * status records), a later callback must not overtake an earlier one of the same user or room.
 * Standard Webhooks receivers are told to expect any order (the spec's own advice).
 */
export const DEFAULT_ORDERING: Readonly<Record<Dialect, Ordering>> = Object.freeze({
  openim: "key",
  mqttchat: "key",
  rongcloud: "key",
  standard: "none",
});

const DEFAULT_JITTER: Readonly<Record<Dialect, number>> = {
  openim: 0.1,
  mqttchat: 0.1,
  rongcloud: 0,
  standard: 0.2,
};
const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_CONCURRENCY = 16;
const DEFAULT_PAUSE_ON_TIMEOUTS = { count: 20, windowMs: 10 * SECOND, pauseMs: MINUTE };
// Svix disables an endpoint after 5 days of failures without a success.
const STANDARD_DISABLE_AFTER_FAILING_MS = 5 * DAY;

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

const dialectSchema = z.enum(["openim", "rongcloud", "mqttchat", "standard"], {
  error: `expected one of ${DIALECTS.map((d) => JSON.stringify(d)).join(", ")}`,
});

const nonEmptyText = (what: string) =>
  z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}, not empty` });

const mapping = typeError("expected a mapping");

// Every field but id, url and dialect may be left out: completeEndpoint fills it for the dialect.
const endpointInputSchema = z.strictObject(
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
    rongcloud: z
      .strictObject({ appKey: nonEmptyText("an app key"), appSecret: nonEmptyText("an app secret") }, mapping)
      .optional(),
    openim: z
      .strictObject(
        { urlStyle: urlStyleSchema.optional(), commandNames: commandNamesSchema.optional() },
        mapping,
      )
      .optional(),
    timeoutMs: intIn(1, MINUTE, "milliseconds").optional(),
    retry: z
      .strictObject(
        {
          scheduleMs: z
            .array(intIn(0, 7 * DAY, "milliseconds"), { error: "expected a list of delays" })
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
    ordering: z.enum(["key", "none"], { error: 'expected "key" or "none"' }).optional(),
    batch: z
      .strictObject(
        {
          maxRecords: intIn(1, 1_000, "records").optional(),
          maxLingerMs: intIn(0, MINUTE, "milliseconds").optional(),
        },
        mapping,
      )
      .optional(),
    pauseOnTimeouts: z
      .strictObject(
        {
          count: intIn(1, 1_000_000, "timeouts").optional(),
          windowMs: intIn(1, DAY, "milliseconds").optional(),
          pauseMs: intIn(1, DAY, "milliseconds").optional(),
        },
        mapping,
      )
      .optional(),
    disableAfterFailingMs: intIn(0, 365 * DAY, "milliseconds").optional(),
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
  const input = parseAt(site, endpointInputSchema, raw);
  const { dialect } = input;
  const onlyFor = (key: "rongcloud" | "openim" | "secrets", owner: Dialect): void => {
    if (dialect !== owner) fail(child(site, key), `only for dialect ${owner}, not ${dialect}`);
  };

  const secrets = input.secrets ?? [];
  if (secrets.length > 0) onlyFor("secrets", "standard");
  if (dialect === "standard" && secrets.length === 0) {
    fail(child(site, "secrets"), "required for dialect standard: at least one whsec_ secret");
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
  if (input.rongcloud !== undefined) onlyFor("rongcloud", "rongcloud");
  if (dialect === "rongcloud" && input.rongcloud === undefined) {
    fail(child(site, "rongcloud"), "required for dialect rongcloud: appKey and appSecret");
  }
  if (input.openim !== undefined) onlyFor("openim", "openim");

  const batchDefault =
    dialect === "rongcloud" ? { maxRecords: 100, maxLingerMs: 200 } : { maxRecords: 1, maxLingerMs: 0 };
  const batch = {
    maxRecords: input.batch?.maxRecords ?? batchDefault.maxRecords,
    maxLingerMs: input.batch?.maxLingerMs ?? batchDefault.maxLingerMs,
  };
  if (batch.maxRecords > 1 && dialect !== "rongcloud") {
    fail(child(site, "batch", "maxRecords"), `only dialect rongcloud sends batches; ${dialect} takes 1`);
  }

  // Built key by key in one order, so equal endpoints serialize to equal bytes.
  return {
    id: input.id,
    url: input.url,
    dialect,
    eventTypes: input.eventTypes ?? [...DEFAULT_EVENT_TYPES[dialect]],
    filter: {
      deniedTypes: input.filter?.deniedTypes ?? [],
      allowedTypes: input.filter?.allowedTypes ?? [],
      attentionIds: input.filter?.attentionIds ?? [],
    },
    secrets: secrets.map(({ value, expiresAt }) =>
      expiresAt === undefined ? { value } : { value, expiresAt },
    ),
    ...(input.rongcloud === undefined
      ? {}
      : { rongcloud: { appKey: input.rongcloud.appKey, appSecret: input.rongcloud.appSecret } }),
    ...(dialect === "openim"
      ? {
          openim: {
            urlStyle: input.openim?.urlStyle ?? appOpenIm?.urlStyle ?? "path",
            commandNames: input.openim?.commandNames ?? appOpenIm?.commandNames ?? "seed",
          },
        }
      : {}),
    timeoutMs: input.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retry: {
      scheduleMs: input.retry?.scheduleMs ?? [...DEFAULT_RETRY_SCHEDULES_MS[dialect]],
      jitter: input.retry?.jitter ?? DEFAULT_JITTER[dialect],
    },
    concurrency: input.concurrency ?? DEFAULT_CONCURRENCY,
    ordering: input.ordering ?? DEFAULT_ORDERING[dialect],
    batch,
    pauseOnTimeouts: {
      count: input.pauseOnTimeouts?.count ?? DEFAULT_PAUSE_ON_TIMEOUTS.count,
      windowMs: input.pauseOnTimeouts?.windowMs ?? DEFAULT_PAUSE_ON_TIMEOUTS.windowMs,
      pauseMs: input.pauseOnTimeouts?.pauseMs ?? DEFAULT_PAUSE_ON_TIMEOUTS.pauseMs,
    },
    disableAfterFailingMs:
      input.disableAfterFailingMs ?? (dialect === "standard" ? STANDARD_DISABLE_AFTER_FAILING_MS : 0),
  };
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

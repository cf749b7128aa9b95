import { z } from "zod";
import {
  APP_ID_PATTERN,
  ID_PATTERN_TEXT,
  chatroomSettingsSchema,
  endpointInputSchema,
  presenceSettingsSchema,
} from "@herald/config";
import { BEFORE_DIALECTS, hookProviderSchema } from "@herald/dialects";
import { isDerivedEventId } from "@herald/presence";
import { appIdSchema as appId, entityIdSchema as entityId, eventIdSchema as eventId } from "@herald/config";

/** An endpoint's id (endpoints exist only in config, so config's rule). */
export const idSchema = z.string().regex(APP_ID_PATTERN, { error: `expected ${ID_PATTERN_TEXT}` });

// Ids the chat core sends over gRPC follow the gRPC schemas: an id Publish accepts, the admin API finds.
export const appIdParam = appId;
/** A user or room id: any Unicode the chat core may use (CJK, emoji, RTL). */
export const entityIdParam = entityId;

/**
 * The longest id the logs hold, in characters: a presence event's delivery id, `<app>:<user>:presence:
 * <seq>:<endpoint>`, is at most 64 + 256 + 27 + 64 with its separators.
 */
const LOGGED_ID_MAX = 512;
const isLoggedEventId = (id: string) => eventId.safeParse(id).success || isDerivedEventId(id);

/** An event in the logs: the chat core's id, or one Herald derived, which holds a (Unicode) user id. */
export const eventIdParam = z.string().refine(isLoggedEventId, {
  error: "must be 1-128 characters of [A-Za-z0-9_:.-], or the id of a presence event Herald derived",
});
/** `<eventId>:<endpointId>`; split and checked by the route (an unparsable one is a delivery not found). */
export const deliveryIdParam = z
  .string()
  .max(LOGGED_ID_MAX)
  .refine(
    (id) =>
      /^[A-Za-z0-9_:.-]{3,200}$/.test(id) || isLoggedEventId(id.slice(0, Math.max(0, id.lastIndexOf(":")))),
    { error: "expected <eventId>:<endpointId>" },
  );

/**
 * The router's limit on one path parameter: the longest id as 9 characters per UTF-16 unit (a CJK
 * character is 3 UTF-8 bytes, each %XX), so only the schemas above decide what is too long, with a 400.
 */
export const MAX_PARAM_LENGTH = 9 * LOGGED_ID_MAX;

export const appParams = z.object({ appId: appIdParam });
export const endpointParams = z.object({ appId: appIdParam, endpointId: idSchema });

export const isoTime = z.iso.datetime({
  offset: true,
  error: "expected an ISO 8601 time, e.g. 2025-01-31T00:00:00Z",
});

/** A page size in a query string (text, so coerced). */
export const pageSize = (max: number) =>
  z.coerce
    .number({ error: `expected an integer, 1 to ${max}` })
    .int({ error: `expected an integer, 1 to ${max}` })
    .min(1, { error: `expected an integer, 1 to ${max}` })
    .max(max, { error: `expected an integer, 1 to ${max}` });

export const pageToken = z
  .string()
  .regex(/^[A-Za-z0-9_=-]*$/, { error: "not a page token this server gave" });

/**
 * An endpoint as the API takes it: the stored form's own schema (@herald/config, with every dialect's
 * block from the registry), so the check, its messages and the OpenAPI document are the config's.
 * The rest of the endpoint's rules (a block only for its dialect, secrets that decode) are
 * validateEndpoint's, in the route.
 */
export const endpointBody = endpointInputSchema.describe("EndpointConfig");

/** PATCH: any top-level field of an endpoint; the id is the path's. */
export const endpointPatchBody = endpointInputSchema.partial().describe("EndpointConfig fields to replace");

/** The openim block of an app: OpenIM's hook settings. */
export const openImBody = z.looseObject({
  url: z.string(),
  urlStyle: z.enum(["path", "query"]).optional(),
  commandNames: z.enum(["seed", "current"]).optional(),
  hooks: z.record(z.string(), z.unknown()).optional().describe("OpenIM webhooks.yml hook keys"),
  provider: hookProviderSchema.optional().describe("gRPC hook provider: the synchronous hooks go there"),
});

/** An app as PUT takes it: AppConfig without appId and source (the path and the API set those). */
export const appBody = z.looseObject({
  openim: openImBody.optional(),
  // Each other before-hook dialect's app block (tencent), its stored form as the registry has it.
  ...Object.fromEntries(
    BEFORE_DIALECTS.flatMap((d) =>
      d.appSchema === undefined
        ? []
        : [[d.appKey, d.appSchema.optional().describe(`${d.appKey} before-hooks`)]],
    ),
  ),
  endpoints: z.array(z.unknown()).optional(),
  allowPrivateDestinations: z.boolean().optional(),
  breaker: z
    .looseObject({ failureThreshold: z.number().optional(), openMs: z.number().optional() })
    .optional(),
  // The config's own schemas: the same check, messages and OpenAPI as a file's blocks.
  presence: presenceSettingsSchema.nullish(),
  chatroom: chatroomSettingsSchema.nullish(),
});

// The admin API's answers as zod schemas, importing nothing but zod: the routes answer with them and the
// panel's JSDoc types are inferred from them (z.infer), without the server's (Node) types in its program.
import { z } from "zod";

/** The body of every refusal: `{error: {code, message, field}}`. */
export const errorSchema = z
  .object({
    error: z.object({
      code: z.enum([
        "invalid_argument",
        "unauthenticated",
        "forbidden",
        "not_found",
        "conflict",
        "too_large",
        "unavailable",
        "internal",
      ]),
      message: z.string(),
      field: z.string().optional(),
    }),
  })
  .describe("Error");

/** An Attempt as the API shows it: the proto's JSON (camelCase; a field at its default is left out). */
export const attemptJson = z
  .looseObject({
    id: z.string(),
    appId: z.string().optional(),
    eventId: z.string().optional(),
    endpointId: z.string().optional(),
    deliveryId: z.string().optional(),
    kind: z.string().optional().describe("delivery or before"),
    outcome: z.string().optional(),
    statusCode: z.number().optional(),
    attempt: z.number().optional(),
    at: z.string().optional(),
    url: z.string().optional(),
    error: z.string().optional(),
    latencyMs: z.number().optional(),
    requestBody: z.string().optional(),
    responseBody: z.string().optional(),
    hook: z.string().optional().describe("before-hooks: the OpenIM hook key"),
    operationId: z.string().optional(),
    dialect: z.string().optional(),
    eventType: z.string().optional(),
    trigger: z.string().optional().describe("event, replay or test"),
    orderingKey: z.string().optional(),
    keyWaitMs: z.number().optional(),
    traceId: z.string().optional().describe('the W3C trace id the request carried (32 hex), "" for none'),
  })
  .describe("Attempt");

/** An Event as the API shows it: the proto's JSON, the payload under its oneof case (userOnline…). */
export const eventJson = z
  .looseObject({
    id: z.string(),
    appId: z.string(),
    type: z.string().optional(),
    occurredAt: z.string().optional(),
    operationId: z.string().optional(),
  })
  .describe("Event");

/**
 * An event's story: the event (null when only attempts of it are on record), its attempts, and the
 * events derived from it (presence's user.*, the chatroom's room.*, and their own derived events),
 * oldest first, each naming its cause in its payload's causeEventId, each with its attempts.
 */
export const eventStorySchema = z
  .object({
    event: eventJson.nullable(),
    attempts: z.array(attemptJson),
    derived: z.array(z.object({ event: eventJson, attempts: z.array(attemptJson) })),
  })
  .describe("EventStory");

export type ApiErrorBody = z.infer<typeof errorSchema>;
export type AttemptJson = z.infer<typeof attemptJson>;
/** GET /v1/apps/{appId}/attempts: a page of attempts (each the proto's JSON, as attemptJson has it). */
export interface AttemptPage {
  attempts: AttemptJson[];
  nextPageToken?: string;
}
export type EventJson = z.infer<typeof eventJson>;
export type EventStory = z.infer<typeof eventStorySchema>;

/** A delivery as the API shows it. */
export const deliveryJson = z
  .object({
    deliveryId: z.string(),
    eventId: z.string(),
    endpointId: z.string(),
    eventType: z.string(),
    outcome: z.string().describe("the latest attempt's: delivered, retry or dead"),
    attemptCount: z.number(),
    firstAt: z.string().nullable(),
    lastAt: z.string().nullable(),
    statusCode: z.number().describe("the latest attempt's; 0 when nothing answered"),
    latencyMs: z.number(),
    error: z.string(),
    url: z.string(),
    dialect: z.string(),
    trigger: z.string().describe("the latest attempt's: event, replay or test"),
    lastAttemptId: z.string(),
    replayable: z.boolean().describe("the event is on record, so a replay can send it"),
  })
  .describe("Delivery");

export /** GET /v1/apps/{appId}/deliveries: a page of deliveries, newest last attempt first. */
const deliveriesResponse = z
  .object({ deliveries: z.array(deliveryJson), nextPageToken: z.string() })
  .describe("DeliveryPage");

/** POST /v1/apps/{appId}/deliveries/replay. */
export const bulkReplayResponse = z
  .object({
    dryRun: z.boolean(),
    queued: z.number().describe("deliveries written to DELIVERIES (0 on a dry run)"),
    matched: z.number().describe("replayable deliveries that match, counted up to max"),
    more: z.boolean().describe("more than max match: only max are (or would be) replayed"),
    skipped: z.number().describe("matching deliveries left out: their endpoint is no longer in the app"),
  })
  .describe("DeliveryReplayResult");

export type DeliveryJson = z.infer<typeof deliveryJson>;
export type DeliveryPage = z.infer<typeof deliveriesResponse>;
export type BulkReplayResult = z.infer<typeof bulkReplayResponse>;

/** The overview's ranges, by name (their spans and bucket widths: OVERVIEW_RANGES in overview.ts). */
export const OVERVIEW_RANGE_NAMES = ["hour", "day", "week"] as const;
export type OverviewRangeName = (typeof OVERVIEW_RANGE_NAMES)[number];

const overviewStats = {
  attempts: z.number().int().describe("Delivery attempts made in the range"),
  delivered: z.number().int().describe("Attempts that delivered (one per delivered delivery)"),
  retried: z.number().int().describe("Attempts that failed and were tried again"),
  dead: z.number().int().describe("Deliveries that gave up (their last attempt)"),
  successRate: z
    .number()
    .nullable()
    .describe(
      "delivered / (delivered + dead): of the deliveries that ended in the range; null when none did",
    ),
  p50Ms: z
    .number()
    .int()
    .describe("Median attempt latency, ms: the bound of its log-scale bucket (at most 19% above)"),
  p99Ms: z.number().int().describe("99th percentile attempt latency, ms, as p50Ms"),
};

/** The overview of an app (or one endpoint): totals, per endpoint, and a series of equal buckets. */
export const overviewSchema = z
  .object({
    range: z.enum(OVERVIEW_RANGE_NAMES),
    from: z.string().describe("Start of the first bucket (ISO 8601)"),
    to: z.string().describe("End of the last bucket (ISO 8601); the last bucket holds now"),
    bucketSeconds: z.number().int(),
    total: z.object(overviewStats),
    endpoints: z
      .array(z.object({ endpointId: z.string(), ...overviewStats }))
      .describe("The app's endpoints and any other with attempts in the range, by id"),
    series: z.array(z.object({ start: z.string(), ...overviewStats })).describe("Every bucket, oldest first"),
  })
  .describe("Overview");
export type Overview = z.infer<typeof overviewSchema>;
export type OverviewStats = Overview["total"];

/** A chat-core node's lease status (NodeView["status"] of @herald/presence; queries.ts checks they agree). */
export const NODE_STATUSES = ["leased", "expired", "reset", "unleased"] as const;
/** Why a node's connections were last reset (NodeResetReason of @herald/presence). */
export const NODE_RESET_REASONS = ["reported", "lease_expired"] as const;

/** One chat-core node of an app, as GET /v1/apps/{appId}/nodes shows it. Times are ISO 8601. */
export const nodeJson = z
  .object({
    nodeId: z.string(),
    status: z
      .enum(NODE_STATUSES)
      .describe(
        "leased: its heartbeats hold a lease; expired: its lease ran out and its connections were reset; " +
          "reset: the chat core reported its reset (node.reset), no heartbeat since; " +
          "unleased: it never sent a heartbeat, so it is never reset on silence",
      ),
    lastHeartbeatAt: z.string().nullable().describe("The last heartbeat since the last reset; null: none"),
    leaseMs: z.number().int().describe("The lease that heartbeat gave, ms; 0: none"),
    leaseExpiresAt: z
      .string()
      .nullable()
      .describe("When the lease runs out: last heartbeat + lease + the app's margin; null: not leased"),
    resetAt: z.string().nullable().describe("The last reset of its connections; null: none"),
    resetReason: z
      .enum(NODE_RESET_REASONS)
      .nullable()
      .describe("reported: the chat core sent node.reset; lease_expired: its lease ran out"),
    connections: z.number().int().describe("Connections the app's users hold on the node now"),
  })
  .describe("ChatCoreNode");

/** GET /v1/apps/{appId}/nodes: every chat-core node Herald knows of, by node id. */
export const nodesResponse = z
  .object({
    now: z.string().describe("The server's clock when it answered (ISO 8601), to read the times against"),
    nodes: z.array(nodeJson),
  })
  .describe("ChatCoreNodes");
export type NodeJson = z.infer<typeof nodeJson>;
export type NodeList = z.infer<typeof nodesResponse>;

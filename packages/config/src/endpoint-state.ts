import { isWrongRevision, type Bus } from "@herald/bus";
import { ConflictError } from "@herald/runtime";
import { z } from "zod";
import { ConfigFileError } from "./errors.js";
import { ID_PATTERN, ID_PATTERN_TEXT, isoTimeSchema, typeError } from "./schemas.js";
import { parseAt, rootSite } from "./site.js";
import { configBucket } from "./store.js";

/** What the deliverer last decided about an endpoint; an endpoint with no state is active. */
export interface EndpointState {
  state: "active" | "paused" | "disabled";
  /** ISO; paused only: when sending resumes. */
  until?: string;
  /** Why it is paused or disabled (shown in the admin panel); "" when active. */
  reason: string;
  /** ISO; when this state was entered. */
  since: string;
  /** ISO; standard dialect: first exhausted delivery with no success since (Svix's failure clock). */
  failingSince?: string;
  /**
   * Set while the endpoint is failing: `failingAfterAttempts` attempts in a row failed (`since`: when
   * that was found; `reason`: the last failure). A delivered attempt clears it and sets `recovered`.
   */
  failing?: { since: string; reason: string };
  /** ISO; the delivered attempt that ended the last failing spell (kept until the next write). */
  recovered?: string;
}

/** A state with the KV revision it was read at, for a later compare-and-set write. */
export interface EndpointStateEntry {
  state: EndpointState;
  revision: number;
}

export const ENDPOINT_STATE_KEY_PREFIX = "endpoints.";

/** The CONFIG key of an endpoint's state: `endpoints.<appId>.<endpointId>`. */
export function endpointStateKey(appId: string, endpointId: string): string {
  for (const [field, id] of [
    ["appId", appId],
    ["endpointId", endpointId],
  ] as const) {
    if (!ID_PATTERN.test(id))
      throw new ConfigFileError(`must be ${ID_PATTERN_TEXT}`, { path: field, file: "" });
  }
  return `${ENDPOINT_STATE_KEY_PREFIX}${appId}.${endpointId}`;
}

/** The app and endpoint ids of an endpoint state key, or undefined for any other key. */
export function parseEndpointStateKey(key: string): { appId: string; endpointId: string } | undefined {
  if (!key.startsWith(ENDPOINT_STATE_KEY_PREFIX)) return undefined;
  const [appId, endpointId, ...rest] = key.slice(ENDPOINT_STATE_KEY_PREFIX.length).split(".");
  if (appId === undefined || endpointId === undefined || rest.length > 0) return undefined;
  if (!ID_PATTERN.test(appId) || !ID_PATTERN.test(endpointId)) return undefined;
  return { appId, endpointId };
}

const endpointStateSchema = z
  .strictObject(
    {
      state: z.enum(["active", "paused", "disabled"], { error: 'expected "active", "paused" or "disabled"' }),
      until: isoTimeSchema.optional(),
      reason: z.string({ error: "expected a reason" }),
      since: isoTimeSchema,
      failingSince: isoTimeSchema.optional(),
      failing: z
        .strictObject(
          { since: isoTimeSchema, reason: z.string({ error: "expected a reason" }) },
          typeError("expected {since, reason}"),
        )
        .optional(),
      recovered: isoTimeSchema.optional(),
    },
    typeError("expected an endpoint state"),
  )
  .refine((value) => (value.state === "paused") === (value.until !== undefined), {
    error: "until is required when paused, and only then",
    path: ["until"],
  });

/** Checks a state (from KV or a caller) and copies it in one key order, so equal states store equal bytes. */
export function validateEndpointState(input: unknown, path?: string): EndpointState {
  const site = rootSite({ file: "", path: path === undefined || path === "" ? [] : path.split(".") });
  const value = parseAt(site, endpointStateSchema, input);
  return {
    state: value.state,
    ...(value.until === undefined ? {} : { until: value.until }),
    reason: value.reason,
    since: value.since,
    ...(value.failingSince === undefined ? {} : { failingSince: value.failingSince }),
    ...(value.failing === undefined
      ? {}
      : { failing: { since: value.failing.since, reason: value.failing.reason } }),
    ...(value.recovered === undefined ? {} : { recovered: value.recovered }),
  };
}

/** The endpoint's state as CONFIG holds it now; undefined if none was written (the endpoint is active). */
export async function readEndpointState(
  bus: Bus,
  appId: string,
  endpointId: string,
): Promise<EndpointStateEntry | undefined> {
  const key = endpointStateKey(appId, endpointId);
  const kv = await configBucket(bus);
  const entry = await kv.get(key);
  if (entry === null || entry.operation !== "PUT" || entry.length === 0) return undefined;
  return { state: validateEndpointState(entry.json(), key), revision: entry.revision };
}

/**
 * Writes the endpoint's state and returns its new revision. With `previousRevision` the write happens only
 * if nobody wrote since (0: only if there is no state), else it throws ConflictError: two deliverers
 * deciding at once must not overwrite each other's reasons.
 */
export async function writeEndpointState(
  bus: Bus,
  appId: string,
  endpointId: string,
  state: EndpointState,
  opts: { previousRevision?: number } = {},
): Promise<number> {
  const key = endpointStateKey(appId, endpointId);
  const json = JSON.stringify(validateEndpointState(state, key));
  const kv = await configBucket(bus);
  const { previousRevision } = opts;
  if (previousRevision === undefined) return kv.put(key, json);
  try {
    // create() also takes a key whose last operation was a delete.
    return previousRevision === 0 ? await kv.create(key, json) : await kv.update(key, json, previousRevision);
  } catch (err) {
    if (!isWrongRevision(err)) throw err;
    throw new ConflictError(`${key} was written since revision ${previousRevision}`, { cause: err });
  }
}

/** Forgets the endpoint's state, which makes it active (e.g. re-enabled from the admin API). */
export async function deleteEndpointState(bus: Bus, appId: string, endpointId: string): Promise<void> {
  const key = endpointStateKey(appId, endpointId);
  const kv = await configBucket(bus);
  await kv.delete(key);
}

import { DIALECT_REGISTRY, type DialectDefinition } from "@herald/dialects";
import { completeEndpoint, sortById } from "./endpoint-config.js";
import type { EndpointConfig } from "./endpoint-config.js";
import { readDuration } from "./duration.js";
import { ID_PATTERN, ID_PATTERN_TEXT } from "./schemas.js";
import type { OpenImUrlStyle } from "./schemas.js";
import { asRecord, child, expectRecord, fail, unknownKeySite, warn } from "./site.js";
import type { Site } from "./site.js";

// The fields of an endpoint in Herald's YAML; a nested mapping lists its own.
const FIELDS: Readonly<Record<string, readonly string[] | undefined>> = {
  url: undefined,
  dialect: undefined,
  eventTypes: undefined,
  filter: ["deniedTypes", "allowedTypes", "attentionIds"],
  secrets: undefined,
  // Each dialect's own block (DIALECT_REGISTRY), its fields read from its schema.
  ...Object.fromEntries(
    DIALECT_REGISTRY.flatMap((d) => {
      const settings = (d as DialectDefinition).settings;
      if (settings === undefined) return [];
      const shape = (settings.schema as { shape?: Record<string, unknown> }).shape;
      return [[settings.key, shape === undefined ? undefined : Object.keys(shape)]];
    }),
  ),
  timeoutMs: undefined,
  retry: ["scheduleMs", "jitter"],
  concurrency: undefined,
  ordering: undefined,
  batch: ["maxRecords", "maxLingerMs"],
  pauseOnTimeouts: ["count", "windowMs", "pauseMs"],
  disableAfterFailingMs: undefined,
};
const DURATIONS = new Set([
  "timeoutMs",
  "batch.maxLingerMs",
  "pauseOnTimeouts.windowMs",
  "pauseOnTimeouts.pauseMs",
  "disableAfterFailingMs",
]);
const SECRET_FIELDS = ["value", "expiresAt"];

/**
 * The `endpoints:` mapping of an app in Herald's YAML (id → fields). Friendlier than the stored form:
 * durations may be text ("5s"), secrets plain strings, an empty value means the default, and unknown
 * keys are warnings. What is left is checked as the stored form is.
 */
export function readFileEndpoints(site: Site, raw: unknown, appOpenIm?: OpenImUrlStyle): EndpointConfig[] {
  if (raw === undefined || raw === null) return [];
  if (Array.isArray(raw)) fail(site, "expected a mapping of endpoint id to endpoint, got a list");
  const endpoints = Object.entries(expectRecord(site, raw)).map(([id, fields]) => {
    const endpointSite = child(site, id);
    if (!ID_PATTERN.test(id)) fail(endpointSite, `endpoint id must be ${ID_PATTERN_TEXT}`);
    return completeEndpoint(endpointSite, fromFile(endpointSite, id, fields), appOpenIm);
  });
  return sortById(endpoints);
}

function fromFile(site: Site, id: string, raw: unknown): Record<string, unknown> {
  const record = expectRecord(site, raw);
  const out: Record<string, unknown> = { id };
  for (const [key, value] of Object.entries(record)) {
    const at = child(site, key);
    if (key === "id") {
      warn(at, "ignored: an endpoint's key is its id");
    } else if (!(key in FIELDS)) {
      warn(unknownKeySite(site, key), "unknown key");
    } else if (value !== null) {
      out[key] = fromFileField(at, key, value);
    }
  }
  return out;
}

function fromFileField(site: Site, key: string, value: unknown): unknown {
  if (key === "secrets") return fromFileSecrets(site, value);
  const nested = FIELDS[key];
  const record = asRecord(value);
  if (nested === undefined || record === undefined) return fromFileValue(site, key, value);
  const out: Record<string, unknown> = {};
  for (const [name, item] of Object.entries(record)) {
    if (!nested.includes(name)) warn(unknownKeySite(site, name), "unknown key");
    else if (item !== null) out[name] = fromFileValue(child(site, name), `${key}.${name}`, item);
  }
  return out;
}

function fromFileValue(site: Site, dotted: string, value: unknown): unknown {
  if (DURATIONS.has(dotted)) return readDuration(site, value);
  if (dotted === "retry.scheduleMs" && Array.isArray(value)) {
    return value.map((delay: unknown, i) => readDuration(child(site, i), delay));
  }
  return value;
}

// A secret may be written as its value alone.
function fromFileSecrets(site: Site, value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  return value.map((item: unknown, i) => {
    if (typeof item === "string") return { value: item };
    const record = asRecord(item);
    if (record === undefined) return item;
    const out: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(record)) {
      if (!SECRET_FIELDS.includes(name)) warn(unknownKeySite(child(site, i), name), "unknown key");
      else if (field !== null) out[name] = field;
    }
    return out;
  });
}

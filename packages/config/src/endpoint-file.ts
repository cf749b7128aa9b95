import { completeEndpoint, endpointInputSchema, sortById } from "./endpoint-config.js";
import type { EndpointConfig } from "./endpoint-config.js";
import { readDuration } from "./duration.js";
import { ID_PATTERN, ID_PATTERN_TEXT } from "./schemas.js";
import type { OpenImUrlStyle } from "./schemas.js";
import { asRecord, child, expectRecord, fail, unknownKeySite, warn } from "./site.js";
import type { Site } from "./site.js";

// The fields of an endpoint in Herald's YAML, a nested mapping's with its own: the stored form's
// schema (the dialects' blocks included), so a field added there is read here too.
const FIELDS: Readonly<Record<string, readonly string[] | undefined>> = Object.fromEntries(
  Object.entries(endpointInputSchema.shape)
    .filter(([key]) => key !== "id")
    .map(([key, field]) => [key, objectKeys(field)]),
);

// Milliseconds may be written as durations ("5s", "200ms"): every field named *Ms.
const DURATIONS = new Set(
  Object.entries(FIELDS).flatMap(([key, nested]) =>
    nested === undefined
      ? key.endsWith("Ms")
        ? [key]
        : []
      : nested.filter((n) => n.endsWith("Ms")).map((n) => `${key}.${n}`),
  ),
);

function objectKeys(field: unknown): readonly string[] | undefined {
  let schema = field as { unwrap?: () => unknown; shape?: Record<string, unknown> };
  while (typeof schema.unwrap === "function" && schema.shape === undefined) {
    schema = schema.unwrap() as typeof schema;
  }
  return schema.shape === undefined ? undefined : Object.keys(schema.shape);
}
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
  if (DURATIONS.has(dotted) && Array.isArray(value)) {
    return value.map((delay: unknown, i) => readDuration(child(site, i), delay));
  }
  if (DURATIONS.has(dotted)) return readDuration(site, value);
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

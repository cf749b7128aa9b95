import { z } from "zod";
import { formatDuration, parseDuration } from "./duration.js";
import { ConfigError } from "./errors.js";

function envInteger(min: number, max: number) {
  return z.coerce
    .number({
      error: (issue) =>
        issue.code === "invalid_type"
          ? `expected ${issue.expected === "int" ? "an integer" : "a number"}`
          : undefined,
    })
    .int()
    .min(min)
    .max(max);
}

const SECOND_MS = 1_000;
const DAY_MS = 86_400_000;
/** EVENT_DEDUP_WINDOW when unset: 10 minutes (the README gives its memory cost). */
export const DEFAULT_EVENT_DEDUP_WINDOW_MS = 10 * 60 * SECOND_MS;

/** An env flag: "true"/"false", "1"/"0", "yes"/"no", in any case. */
export const envBoolean: z.ZodType<boolean> = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(["true", "false", "1", "0", "yes", "no"], { error: "expected true/false, 1/0 or yes/no" }))
  .transform((flag) => flag === "true" || flag === "1" || flag === "yes");

/**
 * An env duration in milliseconds: a number of milliseconds ("600000") or a duration ("10m", "1h",
 * as parseDuration reads), from `min` to `max` ms.
 */
export function envDuration(min: number, max: number): z.ZodType<number, string> {
  return z.string().transform((text, ctx) => {
    const parsed = /^\s*\d+\s*$/.test(text) ? { ms: Number(text) } : parseDuration(text);
    if ("error" in parsed) {
      ctx.addIssue({ code: "custom", message: parsed.error });
      return z.NEVER;
    }
    if (parsed.ms < min || parsed.ms > max) {
      ctx.addIssue({
        code: "custom",
        message: `must be from ${formatDuration(min)} to ${formatDuration(max)}, got ${formatDuration(parsed.ms)}`,
      });
      return z.NEVER;
    }
    return parsed.ms;
  });
}

/** What every Herald service reads; services add their own fields with `baseEnvSchema.extend({...})`. */
export const baseEnvSchema = z.object({
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  NATS_URL: z.string().min(1).default("nats://127.0.0.1:4222"),
  HTTP_HOST: z.string().min(1).default("0.0.0.0"),
  HTTP_PORT: envInteger(0, 65535).default(8080),
  SHUTDOWN_DEADLINE_MS: envInteger(1, 3_600_000).default(10_000),
  // Prefixes stream and subject names so two installs can share one NATS.
  HERALD_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9]{0,12}$/, { error: "expected up to 12 lowercase letters or digits" })
    .default(""),
  STREAM_REPLICAS: envInteger(1, 5).default(1),
  // Partitions of EVENTS when it is created (16 if unset); an existing stream keeps its own, and a
  // different value here stops the service: partitions change only by a rebuild.
  HERALD_PARTITIONS: envInteger(1, 1024).optional(),
  // How long a repeated event id of an app is stored once (EVENTS' JetStream duplicate window); every
  // service declares the stream, so every one reads it here, and a changed value updates the stream.
  EVENT_DEDUP_WINDOW: envDuration(SECOND_MS, 7 * DAY_MS).default(DEFAULT_EVENT_DEDUP_WINDOW_MS),
  // Tracing (startTracing): spans go over OTLP http/protobuf to `<endpoint>/v1/traces` (or to the
  // traces endpoint as given) when either is set; unset, tracing is off and the SDK is not loaded.
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }).optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z
    .url({ protocol: /^https?$/, error: "expected an http(s) URL" })
    .optional(),
  // The service name on this process's spans (default herald-<service>).
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
});

export type BaseEnv = z.infer<typeof baseEnvSchema>;

/**
 * Parses `env` (default `process.env`) with `schema`. An empty variable counts as unset, as
 * `FOO=` in a compose file means. Throws a ConfigError naming every bad field, never a value
 * (values may be secrets).
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const setVariables = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  const result = schema.safeParse(setVariables);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issuePath(issue)}: ${issue.message}`);
  const firstIssue = result.error.issues[0];
  throw new ConfigError(`invalid configuration: ${problems.join("; ")}`, {
    field: firstIssue === undefined ? "(unknown)" : issuePath(firstIssue),
    cause: result.error,
  });
}

function issuePath(issue: z.core.$ZodIssue): string {
  return issue.path.length === 0 ? "(root)" : issue.path.map(String).join(".");
}

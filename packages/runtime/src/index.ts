export {
  HeraldError,
  ValidationError,
  TooLargeError,
  NotFoundError,
  ConflictError,
  TerminalError,
  RetryableError,
  ConfigError,
  ensureError,
  errorField,
  isRetryable,
  retryDelayMs,
  deadlineTimeout,
} from "./errors.js";
export {
  baseEnvSchema,
  loadConfig,
  envBoolean,
  envDuration,
  DEFAULT_EVENT_DEDUP_WINDOW_MS,
} from "./config.js";
export { formatDuration, parseDuration } from "./duration.js";
export type { ParsedDuration } from "./duration.js";
export type { BaseEnv } from "./config.js";
export { createLogger } from "./logger.js";
export type { Logger } from "./logger.js";
export { startHealthServer } from "./health.js";
export type { HealthServer, ReadinessCheck, ReadinessReport } from "./health.js";
export { createRegistry } from "./metrics.js";
export type { Registry } from "./metrics.js";
export { runService } from "./service.js";
export type { ServiceState, ShutdownStep, StartedService, ServiceContext, ServiceHandle } from "./service.js";
export { bearerToken, tokenDigest, tokenMatches } from "./bearer.js";
export {
  NO_TRACE,
  SpanKind,
  TRACE_HEADERS,
  endSpan,
  extractTrace,
  injectTrace,
  startSpan,
  startTracing,
  traceHeaders,
  traceIdOf,
  traceLogFields,
  tracedLogger,
  tracingEnabled,
} from "./tracing.js";
export type { Span, TraceContext, Tracing, TracingEnv } from "./tracing.js";

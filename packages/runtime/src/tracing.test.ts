import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ConfigError, baseEnvSchema, loadConfig } from "./index.js";
import {
  NO_TRACE,
  extractTrace,
  startSpan,
  startTracing,
  traceHeaders,
  traceIdOf,
  traceLogFields,
  tracingEnabled,
} from "./tracing.js";

const PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// These run in one process where startTracing is never given an endpoint: tracing is off.
describe("tracing off", () => {
  it("loads nothing and exports nothing when no OTLP endpoint is set", async () => {
    const tracing = await startTracing("test", {}, pino({ level: "silent" }));
    expect(tracing.enabled).toBe(false);
    expect(tracingEnabled()).toBe(false);
  });

  it("hands a traceparent on unchanged, with its tracestate", () => {
    const parent = extractTrace({ traceparent: PARENT, tracestate: "core=1" });
    const { span, ctx } = startSpan("hop", parent);
    span.end();
    expect(traceHeaders(ctx)).toEqual({ traceparent: PARENT, tracestate: "core=1" });
    expect(traceIdOf(ctx)).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(traceLogFields(ctx)).toEqual({
      trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
      span_id: "00f067aa0ba902b7",
    });
  });

  it("invents no trace when none came, and ignores a malformed traceparent", () => {
    expect(traceHeaders(startSpan("hop", NO_TRACE).ctx)).toEqual({});
    expect(traceIdOf(NO_TRACE)).toBe("");
    expect(traceLogFields(NO_TRACE)).toBeUndefined();
    expect(traceHeaders(extractTrace({ traceparent: "00-not-a-trace-01" }))).toEqual({});
    expect(traceHeaders(extractTrace(undefined))).toEqual({});
  });
});

describe("tracing config", () => {
  it("names the OTLP variable that is not an http(s) URL", () => {
    for (const field of ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]) {
      let caught: unknown;
      try {
        loadConfig(baseEnvSchema, { [field]: "collector:4318" });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).field).toBe(field);
    }
    expect(loadConfig(baseEnvSchema, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel:4318" })).toMatchObject({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel:4318",
    });
  });
});

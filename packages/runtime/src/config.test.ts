import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError, baseEnvSchema, envBoolean, loadConfig } from "./index.js";

function configErrorOf(load: () => unknown): ConfigError {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError, but the configuration loaded");
}

describe("loadConfig", () => {
  it("fills every base field with its default", () => {
    expect(loadConfig(baseEnvSchema, {})).toEqual({
      LOG_LEVEL: "info",
      NATS_URL: "nats://127.0.0.1:4222",
      HTTP_HOST: "0.0.0.0",
      HTTP_PORT: 8080,
      SHUTDOWN_DEADLINE_MS: 10_000,
      HERALD_NAMESPACE: "",
      STREAM_REPLICAS: 1,
      EVENT_DEDUP_WINDOW: 600_000,
    });
  });

  it("coerces given values and treats an empty variable as unset", () => {
    const config = loadConfig(baseEnvSchema, {
      LOG_LEVEL: "debug",
      HTTP_PORT: "9090",
      SHUTDOWN_DEADLINE_MS: "",
      HERALD_NAMESPACE: "ci42",
      STREAM_REPLICAS: "3",
    });
    expect(config).toMatchObject({
      LOG_LEVEL: "debug",
      HTTP_PORT: 9090,
      SHUTDOWN_DEADLINE_MS: 10_000,
      HERALD_NAMESPACE: "ci42",
      STREAM_REPLICAS: 3,
    });
  });

  it("names the bad field in the message and in .field", () => {
    const err = configErrorOf(() => loadConfig(baseEnvSchema, { HTTP_PORT: "abc" }));
    expect(err.field).toBe("HTTP_PORT");
    expect(err.message).toBe("invalid configuration: HTTP_PORT: expected a number");
  });

  it("names every bad field, the first in .field", () => {
    const err = configErrorOf(() =>
      loadConfig(baseEnvSchema, { STREAM_REPLICAS: "7", HERALD_NAMESPACE: "Prod-EU", LOG_LEVEL: "loud" }),
    );
    expect(err.field).toBe("LOG_LEVEL");
    expect(err.message).toMatch(
      /^invalid configuration: LOG_LEVEL: .*; HERALD_NAMESPACE: .*; STREAM_REPLICAS: /,
    );
  });

  it("rejects out-of-range and fractional numbers", () => {
    expect(() => loadConfig(baseEnvSchema, { HTTP_PORT: "70000" })).toThrow(/HTTP_PORT: Too big/);
    expect(() => loadConfig(baseEnvSchema, { STREAM_REPLICAS: "1.5" })).toThrow(
      /STREAM_REPLICAS: expected an integer/,
    );
  });

  it("reads EVENT_DEDUP_WINDOW as milliseconds or a duration, and names what it takes", () => {
    const window = (value: string) =>
      loadConfig(baseEnvSchema, { EVENT_DEDUP_WINDOW: value }).EVENT_DEDUP_WINDOW;
    expect(window("10m")).toBe(600_000);
    expect(window("1h")).toBe(3_600_000);
    expect(window("90s")).toBe(90_000);
    expect(window("900000")).toBe(900_000);
    expect(() => window("ten minutes")).toThrow(
      /^invalid configuration: EVENT_DEDUP_WINDOW: expected milliseconds or a duration like/,
    );
    expect(() => window("500ms")).toThrow(/EVENT_DEDUP_WINDOW: must be from 1s to 7d, got 500ms/);
    expect(() => window("8d")).toThrow(/EVENT_DEDUP_WINDOW: must be from 1s to 7d, got 8d/);
  });

  it("reads a service's extended schema", () => {
    const schema = baseEnvSchema.extend({
      DATABASE_URL: z.string().url(),
      DRY_RUN: envBoolean.default(false),
    });
    const config = loadConfig(schema, { DATABASE_URL: "postgres://localhost/test", DRY_RUN: "yes" });
    expect(config.DATABASE_URL).toBe("postgres://localhost/test");
    expect(config.DRY_RUN).toBe(true);
    expect(config.HTTP_PORT).toBe(8080);
    expect(configErrorOf(() => loadConfig(schema, {})).field).toBe("DATABASE_URL");
  });
});

describe("envBoolean", () => {
  it.each([
    ["true", true],
    ["TRUE", true],
    ["1", true],
    ["yes", true],
    ["false", false],
    ["0", false],
    [" No ", false],
  ])("%j -> %s", (raw, expected) => {
    expect(envBoolean.parse(raw)).toBe(expected);
  });

  it("refuses anything else", () => {
    expect(envBoolean.safeParse("maybe").success).toBe(false);
    expect(envBoolean.safeParse("").success).toBe(false);
  });
});

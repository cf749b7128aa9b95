import { describe, expect, it } from "vitest";
import { ValidationError } from "@herald/runtime";
import { checkOverviewRange, latencyBucketMaxMs, statsOf } from "./overview.js";

describe("overview", () => {
  it("reads a percentile as the largest whole ms of the histogram bucket holding its rank", () => {
    expect([0, 1, 4, 8, 40, 70].map(latencyBucketMaxMs)).toEqual([1, 1, 2, 4, 1024, 185363]);
    const stats = statsOf({
      attempts: "100",
      delivered: "90",
      retried: "8",
      dead: "2",
      p50_bucket: 24,
      p99_bucket: 40,
    });
    expect(stats).toEqual({ attempts: 100, delivered: 90, retried: 8, dead: 2, p50Ms: 64, p99Ms: 1024 });
    const none = {
      attempts: "0",
      delivered: "0",
      retried: "0",
      dead: "0",
      p50_bucket: null,
      p99_bucket: null,
    };
    expect(statsOf(none)).toEqual({ attempts: 0, delivered: 0, retried: 0, dead: 0, p50Ms: 0, p99Ms: 0 });
  });

  it("refuses a range the rollups cannot answer exactly, naming the field", () => {
    const ok = { appId: "a", endpointId: "", from: new Date(0), to: new Date(3_600_000), bucketSeconds: 60 };
    expect(() => checkOverviewRange(ok)).not.toThrow();
    const field = (patch: Partial<typeof ok>) => {
      try {
        checkOverviewRange({ ...ok, ...patch });
      } catch (err) {
        return err instanceof ValidationError ? err.field : "not a ValidationError";
      }
      return undefined;
    };
    expect(field({ from: new Date(1) })).toBe("from");
    expect(field({ to: new Date(0) })).toBe("to");
    expect(field({ bucketSeconds: 90 })).toBe("bucket_seconds");
    expect(field({ bucketSeconds: 7 * 60 })).toBe("bucket_seconds");
    expect(field({ to: new Date(20_000 * 60_000), bucketSeconds: 60 })).toBe("bucket_seconds");
  });
});

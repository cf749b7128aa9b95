import { describe, expect, it } from "vitest";
import { Breaker, Breakers } from "./breaker.js";

const settings = { failureThreshold: 3, openMs: 1_000 };

describe("Breaker", () => {
  it("opens after the threshold of failures in a row, and a success resets the count", () => {
    let now = 0;
    const b = new Breaker(() => now);
    b.failure(settings);
    b.failure(settings);
    b.success();
    b.failure(settings);
    b.failure(settings);
    expect(b.allow(settings)).toBe(true);
    b.failure(settings);
    expect(b.state).toBe("open");
    now = 999;
    expect(b.allow(settings)).toBe(false);
  });

  it("lets one probe through after openMs; its success closes, its failure opens again", () => {
    let now = 0;
    const b = new Breaker(() => now);
    for (let i = 0; i < 3; i++) b.failure(settings);
    now = 1_000;
    expect(b.allow(settings)).toBe(true);
    expect(b.state).toBe("half-open");
    expect(b.allow(settings)).toBe(false); // only the one probe
    b.failure(settings);
    expect(b.state).toBe("open");
    now = 2_000;
    expect(b.allow(settings)).toBe(true);
    b.success();
    expect(b.state).toBe("closed");
    expect(b.allow(settings)).toBe(true);
  });
});

it("keeps one breaker per key and counts the open ones", () => {
  const breakers = new Breakers(() => 0);
  for (let i = 0; i < 3; i++) breakers.get("app1/beforeSendSingleMsg").failure(settings);
  expect(breakers.get("app1/beforeSendSingleMsg").state).toBe("open");
  expect(breakers.get("app2/beforeSendSingleMsg").state).toBe("closed");
  expect(breakers.openCount()).toBe(1);
});

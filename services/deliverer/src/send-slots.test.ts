import { describe, expect, it } from "vitest";
import { SendSlots } from "./endpoint-queue.js";
import type { EndpointQueue } from "./endpoint-queue.js";

/** A queue that counts how often it was woken. */
function queue(): EndpointQueue & { woken: number } {
  const q = { woken: 0, schedulePump: () => (q.woken += 1) };
  return q as unknown as EndpointQueue & { woken: number };
}

describe("SendSlots", () => {
  it("lets `max` requests go and wakes the queues refused, longest waiting first", () => {
    const slots = new SendSlots(2);
    const [a, b, c] = [queue(), queue(), queue()];
    expect(slots.take(a)).toBe(true);
    expect(slots.take(a)).toBe(true);
    expect(slots.take(b)).toBe(false);
    expect(slots.take(c)).toBe(false);
    slots.give();
    expect([b.woken, c.woken]).toEqual([1, 0]);
    expect(slots.take(b)).toBe(true);
    slots.give();
    expect(c.woken).toBe(1);
  });

  it("hands a free slot on when the woken queue no longer needs it", () => {
    const slots = new SendSlots(1);
    const [a, b, c] = [queue(), queue(), queue()];
    slots.take(a);
    slots.take(b);
    slots.take(c);
    slots.give(); // b is woken, finds nothing to send, and its pump ends with passOn
    slots.passOn();
    expect([b.woken, c.woken]).toEqual([1, 1]);
    expect(slots.inUse).toBe(0);
  });
});

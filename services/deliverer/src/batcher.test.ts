import { describe, expect, it } from "vitest";
import { Batcher } from "./batcher.js";
import { Slots } from "./slots.js";

describe("Batcher", () => {
  it("sends a full batch at once and a partial one after the linger", async () => {
    const sent: number[][] = [];
    const batcher = new Batcher<number, number>(3, 50, (items) => {
      sent.push(items);
      return Promise.resolve(items.length);
    });
    const full = await Promise.all([batcher.add(1), batcher.add(2), batcher.add(3)]);
    expect(full).toEqual([3, 3, 3]);
    expect(sent).toEqual([[1, 2, 3]]);
    const partial = await Promise.all([batcher.add(4), batcher.add(5)]);
    expect(partial).toEqual([2, 2]);
    expect(sent).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it("fails every item of a batch whose send failed", async () => {
    const batcher = new Batcher<number, number>(2, 10, () => Promise.reject(new Error("boom")));
    const results = await Promise.allSettled([batcher.add(1), batcher.add(2)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
  });
});

describe("Slots", () => {
  it("never runs more than its size at once, and serves in order", async () => {
    const slots = new Slots(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      [1, 2, 3, 4, 5].map((n) =>
        slots.run(async () => {
          running++;
          most = Math.max(most, running);
          order.push(n);
          await new Promise((r) => setTimeout(r, 5));
          running--;
        }),
      ),
    );
    expect(most).toBe(2);
    expect(order).toEqual([1, 2, 3, 4, 5]);
  });
});

import { describe, expect, it } from "vitest";
import { mapBounded } from "./bounded.js";

describe("mapBounded", () => {
  it("keeps at most `limit` calls pending and returns results in input order", async () => {
    let pending = 0;
    let most = 0;
    const items = Array.from({ length: 50 }, (_, i) => i);
    const out = await mapBounded(items, 4, async (i) => {
      pending++;
      most = Math.max(most, pending);
      // Later items finish first, so order comes from the index, not from completion.
      await new Promise((resolve) => setTimeout(resolve, 50 - i));
      pending--;
      return i * 2;
    });
    expect(most).toBe(4);
    expect(out).toEqual(items.map((i) => i * 2));
  });

  it("fails with the first failure", async () => {
    await expect(
      mapBounded([1, 2, 3], 2, (i) => (i === 2 ? Promise.reject(new Error("two")) : Promise.resolve(i))),
    ).rejects.toThrow("two");
  });
});

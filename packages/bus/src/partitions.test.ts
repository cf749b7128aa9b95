import { ValidationError } from "@herald/runtime";
import { describe, expect, it } from "vitest";
import { MAX_PARTITIONS, checkPartitions, partitionOf } from "./partitions.js";

describe("partitionOf", () => {
  it("gives the FNV-1a partitions it always gave (a changed hash would move every stored key)", () => {
    // FNV-1a 32 of "<app>\\0<key>", computed independently of this code.
    const pinned: [string, string, number, number][] = [
      ["app1", "u1", 3, 275],
      ["app1", "u2", 6, 678],
      ["app1", "用户", 9, 217],
      ["app2", "u1", 0, 624],
      ["chat", "room-42", 15, 799],
      ["app1", "", 5, 229],
    ];
    for (const [app, key, of16, of1024] of pinned) {
      expect(partitionOf(app, key, 16), `${app}/${key}`).toBe(of16);
      expect(partitionOf(app, key, 1024), `${app}/${key}`).toBe(of1024);
    }
  });

  it("separates the app from the key: app 'a' key 'bc' is not app 'ab' key 'c'", () => {
    const inputs: [string, string][] = [
      ["a", "bc"],
      ["ab", "c"],
      ["abc", ""],
    ];
    expect(new Set(inputs.map(([app, key]) => partitionOf(app, key, 1024))).size).toBe(3);
  });

  it("stays within range and spreads keys over every partition", () => {
    for (const partitions of [1, 7, 16, 64]) {
      const counts = new Array<number>(partitions).fill(0);
      const keys = 200 * partitions;
      for (let i = 0; i < keys; i++) {
        const p = partitionOf("app1", `user-${i}`, partitions);
        expect(Number.isInteger(p) && p >= 0 && p < partitions).toBe(true);
        counts[p] = (counts[p] ?? 0) + 1;
      }
      // 200 keys expected per partition; a fair hash stays well within half to twice that.
      expect(Math.min(...counts), `${partitions} partitions: ${counts.join(",")}`).toBeGreaterThan(100);
      expect(Math.max(...counts), `${partitions} partitions: ${counts.join(",")}`).toBeLessThan(400);
    }
  });
});

describe("checkPartitions", () => {
  it("takes integers 1 to MAX_PARTITIONS and refuses the rest naming the field", () => {
    expect(checkPartitions(1)).toBe(1);
    expect(checkPartitions(MAX_PARTITIONS)).toBe(MAX_PARTITIONS);
    for (const bad of [0, -1, 1.5, MAX_PARTITIONS + 1, Number.NaN]) {
      const err: unknown = (() => {
        try {
          checkPartitions(bad);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err, String(bad)).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).field).toBe("partitions");
    }
  });
});

describe("partitionOf without allocating", () => {
  it("hashes exactly the bytes TextEncoder writes, for every kind of text", () => {
    const reference = (app: string, key: string, n: number) => {
      let h = 0x811c9dc5;
      for (const b of [...new TextEncoder().encode(app), 0, ...new TextEncoder().encode(key)])
        h = Math.imul(h ^ b, 0x01000193);
      return (h >>> 0) % n;
    };
    const keys = [
      "",
      "ascii",
      "é",
      "ß€",
      "用户",
      "🙂🦊",
      "a\uD800b",
      "\uDC00",
      "x\uD83D",
      "עברית",
      "مرحبا",
      "𝒳",
    ];
    for (const key of keys)
      for (const n of [1, 7, 16, 1024]) expect(partitionOf("app-1", key, n)).toBe(reference("app-1", key, n));
  });
});

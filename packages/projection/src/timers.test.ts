import { describe, expect, it } from "vitest";
import { TimerQueue } from "./timers.js";

describe("TimerQueue", () => {
  it("pops due keys in order of due time, one timer per key", () => {
    const q = new TimerQueue();
    q.set("b", 20);
    q.set("a", 10);
    q.set("c", 30);
    q.set("b", 5); // replaces b's 20
    expect(q.size).toBe(3);
    expect(q.popDue(15)).toBe("b");
    expect(q.popDue(15)).toBe("a");
    expect(q.popDue(15)).toBeUndefined();
    expect(q.next()).toBe(30);
  });

  it("forgets a cancelled timer", () => {
    const q = new TimerQueue();
    q.set("a", 10);
    q.set("a", undefined);
    expect(q.next()).toBeUndefined();
    expect(q.popDue(100)).toBeUndefined();
  });

  it("keeps order over many random timers", () => {
    const q = new TimerQueue();
    const due = new Map<string, number>();
    for (let i = 0; i < 500; i++) {
      const key = `k${i % 200}`;
      const at = (i * 7919) % 1000;
      q.set(key, at);
      due.set(key, at);
    }
    const popped: number[] = [];
    for (let key = q.popDue(Infinity); key !== undefined; key = q.popDue(Infinity))
      popped.push(due.get(key) ?? -1);
    expect(popped).toHaveLength(200);
    expect(popped).toEqual([...popped].sort((a, b) => a - b));
  });
});

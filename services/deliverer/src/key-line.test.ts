import { describe, expect, it } from "vitest";
import type { Job } from "@herald/bus";
import { KeyLine } from "./key-line.js";
import type { Entry } from "./key-line.js";

function entry(order: number, fields: Partial<Job> = {}): Entry {
  const job: Job = {
    appId: "a",
    endpointId: "e",
    deliveryId: `ev${order}:e`,
    eventId: `ev${order}`,
    eventType: "user.online",
    attemptsMade: 0,
    notBefore: 0,
    trigger: "event",
    key: "user:u1",
    order,
    event: new Uint8Array(),
    ...fields,
  };
  return { job, msg: undefined, partition: 0, arrivedAt: 0, headAt: 0, waitReported: false };
}

const orders = (line: KeyLine) => line.entries.map((e) => e.job.order);

describe("KeyLine", () => {
  it("keeps a key's jobs in event order, whatever order they arrive in", () => {
    const line = new KeyLine("user:u1", 0);
    expect(line.insert(entry(5))).toBe(true);
    expect(line.insert(entry(9))).toBe(false);
    // Routed late (another partition's router was behind): it goes before the later ones.
    expect(line.insert(entry(7))).toBe(false);
    expect(line.insert(entry(3))).toBe(true);
    expect(orders(line)).toEqual([3, 5, 7, 9]);
  });

  it("never puts a job in front of a head being sent", () => {
    const line = new KeyLine("user:u1", 0);
    line.insert(entry(5));
    line.busy = true;
    expect(line.insert(entry(3))).toBe(false);
    expect(orders(line)).toEqual([5, 3]);
  });

  it("keeps jobs of equal order (moved from before partitions) in arrival order", () => {
    const line = new KeyLine("user:u1", 0);
    line.insert(entry(0, { deliveryId: "x:e" }));
    line.insert(entry(0, { deliveryId: "y:e" }));
    expect(line.entries.map((e) => e.job.deliveryId)).toEqual(["x:e", "y:e"]);
  });

  it("says the head is due only once its message is here and its time has come", () => {
    const line = new KeyLine("user:u1", 0);
    const head = entry(1, { notBefore: 1_000 });
    line.insert(head);
    expect(line.headDue(2_000)).toBe(false); // waiting for its retry copy
    head.msg = {} as Entry["msg"];
    expect(line.headDue(999)).toBe(false);
    expect(line.headDue(1_000)).toBe(true);
  });
});
